/**
 * External programs the benchmark drives. Missing ones are installed with apt-get when running as
 * root on Debian (the packages are in bookworm main); otherwise the run stops and names them.
 */
import { hasTool, run } from '../test/support/processes.js';
import { REFERENCE_REGISTRY_BINARY } from '../test/support/reference-registry.js';

const NEEDED: Array<{ binary: string; pkg: string }> = [
  { binary: REFERENCE_REGISTRY_BINARY, pkg: 'docker-registry' },
  { binary: 'skopeo', pkg: 'skopeo' },
  { binary: 'wrk', pkg: 'wrk' },
  { binary: 'curl', pkg: 'curl' },
  { binary: 'openssl', pkg: 'openssl' },
  { binary: 'python3', pkg: 'python3' },
];

export async function ensureTools(log: (line: string) => void): Promise<void> {
  const missing = NEEDED.filter((tool) => !hasTool(tool.binary));
  if (missing.length === 0) return;
  const packages = missing.map((tool) => tool.pkg);
  if (process.getuid?.() !== 0 || !hasTool('apt-get')) {
    throw new Error(`bench: missing ${packages.join(', ')}; install them (apt-get install ${packages.join(' ')})`);
  }
  log(`installing ${packages.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await run('apt-get', ['update', '-qq'], { timeoutMs: 180_000, env });
  if (update.code !== 0) throw new Error(`apt-get update failed:\n${update.stderr}`);
  const install = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { timeoutMs: 300_000, env });
  if (install.code !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed:\n${install.stderr}`);
  const still = NEEDED.filter((tool) => !hasTool(tool.binary));
  if (still.length > 0) throw new Error(`bench: still missing after apt-get: ${still.map((t) => t.binary).join(', ')}`);
}
