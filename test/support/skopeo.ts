/**
 * skopeo as a hermetic, bounded test client. Each `Skopeo` gets its own temp directory holding an
 * accept-anything trust policy, an empty registries.conf, an empty auth file and skopeo's temp
 * files, and HOME/XDG_* point there, so the host's container configuration never matters.
 * Registries are plain HTTP on loopback: TLS verification is off on both sides of every command.
 *
 * Not hermetic: as root, containers/image keeps a blob-info cache in
 * /var/lib/containers/cache/blob-info-cache-v1.boltdb (no flag moves it). It only suggests blob
 * reuse/mounts for the same registry host:port, and tests use a fresh random port per run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, tempDir, type RunResult } from './processes.js';

export interface SkopeoOptions {
  /** Hard bound per command (the process is SIGKILLed); default 60 s. */
  timeoutMs?: number;
}

/** The subset of `skopeo inspect` (non-raw) output tests look at. */
export interface SkopeoInspection {
  Name: string;
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
  LayersData?: { MIMEType: string; Digest: string; Size: number }[];
}

export interface Skopeo {
  /** `skopeo copy SRC DEST …flags` with TLS verification disabled; throws on a non-zero exit. */
  copy(source: string, destination: string, flags?: string[]): Promise<RunResult>;
  /** Parsed `skopeo inspect` of one image (for an index: the platform chosen by `--override-*`). */
  inspect(reference: string, flags?: string[]): Promise<SkopeoInspection>;
  /** `skopeo inspect --raw`: the manifest bytes exactly as the registry served them. */
  inspectRaw(reference: string, flags?: string[]): Promise<Buffer>;
  /** Any other subcommand, with the hermetic global flags added; throws on a non-zero exit. */
  run(args: string[]): Promise<RunResult>;
  /** Removes the temp directory. */
  close(): Promise<void>;
}

export async function createSkopeo(options: SkopeoOptions = {}): Promise<Skopeo> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = await tempDir('skopeo');
  const policy = join(dir.path, 'policy.json');
  const registriesConf = join(dir.path, 'registries.conf');
  const registriesD = join(dir.path, 'registries.d');
  const authFile = join(dir.path, 'auth.json');
  const tmp = join(dir.path, 'tmp');
  await Promise.all([mkdir(registriesD), mkdir(tmp)]);
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(registriesConf, 'unqualified-search-registries = []\n');
  await writeFile(authFile, JSON.stringify({ auths: {} }));

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir.path,
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    XDG_RUNTIME_DIR: join(dir.path, 'run'),
    XDG_DATA_HOME: join(dir.path, 'data'),
    REGISTRY_AUTH_FILE: authFile,
    TMPDIR: tmp,
  };
  const global = [
    '--policy', policy,
    '--registries.d', registriesD,
    '--tmpdir', tmp,
    '--command-timeout', `${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s`,
  ];
  const run = (args: string[]) => runChecked('skopeo', [...global, ...args], { timeoutMs, env });
  // --registries-conf is a hidden (deprecated) per-command flag, still honoured by skopeo 1.x.
  const common = ['--registries-conf', registriesConf, '--authfile', authFile];

  return {
    copy: (source, destination, flags = []) =>
      run(['copy', ...common, '--src-tls-verify=false', '--dest-tls-verify=false', ...flags, source, destination]),
    inspect: async (reference, flags = []) =>
      JSON.parse((await run(['inspect', ...common, '--tls-verify=false', ...flags, reference])).stdout) as SkopeoInspection,
    inspectRaw: async (reference, flags = []) =>
      (await run(['inspect', ...common, '--tls-verify=false', '--raw', ...flags, reference])).stdoutBytes,
    run,
    close: () => dir.remove(),
  };
}
