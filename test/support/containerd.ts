/**
 * A private containerd (Debian's 1.6) and `ctr` bound to it, for client tests. Its own config, root,
 * state and sockets live in one temp directory; plugins that would reach outside it are disabled
 * (CRI, which wants CNI and kubelet; `opt`, which creates /opt/containerd). Images are unpacked with
 * the `native` snapshotter (plain copies, like dockerd's vfs).
 *
 * Registry hosts: `ctr images pull` resolves and fetches on the *client* side, reading hosts.toml
 * from `--hosts-dir` (the same certs.d layout that the CRI plugin reads from its `config_path`).
 * With `hostsFile`, containerd and every ctr command run with that file as /etc/hosts
 * (docker-hub-offline.ts); containerd's unpack bind mounts stay in that private namespace too.
 *
 *   DIR/config.toml   DIR/containerd.sock   DIR/root/   DIR/state/   DIR/containerd.log
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withoutDockerHub } from './docker-hub-offline.js';
import { run, startDaemon, tempDir, type RunResult } from './processes.js';

export const CONTAINERD = process.env.STOWAGE_CONTAINERD ?? 'containerd';
export const CTR = process.env.STOWAGE_CTR ?? 'ctr';

export interface ContainerdOptions {
  hostsFile?: string;
  readyTimeoutMs?: number;
  /** Hard bound per ctr command; default 60 s. */
  commandTimeoutMs?: number;
}

export interface Containerd {
  /** The gRPC socket, for `ctr --address`. */
  address: string;
  pid: number;
  logTail(lines?: number): string;
  /** `ctr --address … --namespace stowage-test ARGS`; throws (with stderr and the daemon's log) on failure. */
  ctr(args: string[]): Promise<RunResult>;
  /** Like `ctr`, but returns a non-zero exit instead of throwing. */
  tryCtr(args: string[]): Promise<RunResult>;
  /** Stops containerd (SIGTERM, SIGKILL after 10 s) and removes its directory. Idempotent. */
  close(): Promise<void>;
}

export async function startContainerd(options: ContainerdOptions = {}): Promise<Containerd> {
  const dir = await tempDir('containerd');
  const address = join(dir.path, 'containerd.sock');
  const configFile = join(dir.path, 'config.toml');
  await writeFile(configFile, [
    'version = 2',
    `root = "${join(dir.path, 'root')}"`,
    `state = "${join(dir.path, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",',
    '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]',
    '',
    '[grpc]',
    `  address = "${address}"`,
    '[ttrpc]',
    `  address = "${address}.ttrpc"`,
    '[debug]',
    '  level = "info"',
    '',
  ].join('\n'));
  const args = ['--config', configFile];
  const [command, commandArgs] = options.hostsFile ? withoutDockerHub(options.hostsFile, CONTAINERD, args) : [CONTAINERD, args];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir.path, TMPDIR: dir.path };
  const timeoutMs = options.commandTimeoutMs ?? 60_000;
  const tryCtr = (ctrArgs: string[]): Promise<RunResult> => {
    const full = ['--address', address, '--namespace', 'stowage-test', ...ctrArgs];
    const [ctrCommand, ctrCommandArgs] = options.hostsFile ? withoutDockerHub(options.hostsFile, CTR, full) : [CTR, full];
    return run(ctrCommand, ctrCommandArgs, { timeoutMs, env });
  };

  let daemon;
  try {
    daemon = await startDaemon({
      name: 'containerd',
      command,
      args: commandArgs,
      env,
      logFile: join(dir.path, 'containerd.log'),
      readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
      ready: async () => (await run(CTR, ['--address', address, '--timeout', '1s', 'version'], { timeoutMs: 3000, env })).code === 0,
    });
  } catch (error) {
    await dir.remove();
    throw error;
  }
  const started = daemon;
  let closing: Promise<void> | undefined;
  return {
    address,
    pid: started.pid,
    logTail: started.logTail,
    tryCtr,
    async ctr(ctrArgs) {
      const result = await tryCtr(ctrArgs);
      if (result.code !== 0) {
        throw new Error(`ctr ${ctrArgs.join(' ')} exited with ${result.code}\n${result.stderr}${result.stdout}\n--- containerd log ---\n${started.logTail(30)}`);
      }
      return result;
    },
    close: () => (closing ??= started.stop(10_000).finally(() => dir.remove())),
  };
}

export interface MirrorHost {
  /** Host URL (`http://127.0.0.1:PORT`, or with a path when `overridePath`). */
  url: string;
  capabilities?: Array<'pull' | 'resolve' | 'push'>;
  /** Use the URL's path as is instead of appending `/v2` (containerd `override_path`). */
  overridePath?: boolean;
}

/**
 * Writes `<certsDir>/<registry>/hosts.toml`: `server` as the fallback, then each mirror host in
 * order (what containerd tries first). Returns the hosts.toml path.
 */
export async function writeHostsToml(certsDir: string, registry: string, server: string, hosts: MirrorHost[]): Promise<string> {
  const dir = join(certsDir, registry);
  await mkdir(dir, { recursive: true });
  const lines = [`server = "${server}"`, ''];
  for (const host of hosts) {
    lines.push(`[host."${host.url}"]`, `  capabilities = [${(host.capabilities ?? ['pull', 'resolve']).map((c) => `"${c}"`).join(', ')}]`);
    if (host.overridePath) lines.push('  override_path = true');
    lines.push('');
  }
  const file = join(dir, 'hosts.toml');
  await writeFile(file, lines.join('\n'));
  return file;
}
