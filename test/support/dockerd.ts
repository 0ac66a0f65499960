/**
 * A private Docker daemon (Debian's `docker.io`, classic image store) for client tests, and the
 * docker CLI bound to it. Nothing is shared with a system Docker: its own daemon.json, data root
 * (vfs: no kernel overlay or mounts needed, fine for pull/push/tag/inspect — nothing is run), exec
 * root, pidfile and unix socket, all in one temp directory; no iptables, no bridge.
 *
 * dockerd talks to a private containerd (containerd.ts) started here and stopped after it, passed
 * explicitly with `--containerd`: left alone, dockerd would use a system containerd whenever
 * /run/containerd/containerd.sock exists. With `hostsFile`, dockerd (which does the registry I/O of
 * a classic pull and push itself) and its containerd run with that file as /etc/hosts
 * (docker-hub-offline.ts), and with private /etc/docker and /run/docker.
 *
 *   DIR/daemon.json   DIR/docker.sock   DIR/docker.pid   DIR/data/ (--data-root)
 *   DIR/exec/ (--exec-root)   DIR/cli/ (DOCKER_CONFIG: no credentials)   DIR/dockerd.log
 *   DIR/etc-docker/, DIR/run-docker/ (over /etc/docker and /run/docker, with hostsFile)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { startContainerd } from './containerd.js';
import { withoutDockerHub } from './docker-hub-offline.js';
import { run, startDaemon, tempDir, type RunResult } from './processes.js';

/** Debian's CLI; a different `docker` may come first on PATH. */
export const DOCKER_CLI = process.env.STOWAGE_DOCKER_CLI ?? '/usr/bin/docker';
export const DOCKERD = process.env.STOWAGE_DOCKERD ?? 'dockerd';

export interface DockerdOptions {
  /** `registry-mirrors` in daemon.json, e.g. `http://127.0.0.1:PORT`. */
  registryMirrors?: string[];
  /** `insecure-registries` (host:port), allowed over plain HTTP for push. */
  insecureRegistries?: string[];
  /** Run dockerd with this file bind-mounted over /etc/hosts. */
  hostsFile?: string;
  readyTimeoutMs?: number;
  /** Hard bound per CLI command; default 60 s. */
  commandTimeoutMs?: number;
}

export interface Dockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  host: string;
  pid: number;
  /** The CLI's DOCKER_CONFIG directory (config.json: credentials from `docker login`). */
  configDir: string;
  logTail(lines?: number): string;
  /** Runs the docker CLI against this daemon; throws (with stderr and the daemon's log) on failure. */
  docker(args: string[]): Promise<RunResult>;
  /** Like `docker`, but returns a non-zero exit instead of throwing. */
  tryDocker(args: string[]): Promise<RunResult>;
  /** Stops dockerd (SIGTERM, SIGKILL after 15 s), then its containerd, and removes its directory. Idempotent. */
  close(): Promise<void>;
}

export async function startDockerd(options: DockerdOptions = {}): Promise<Dockerd> {
  const dir = await tempDir('dockerd');
  const socket = join(dir.path, 'docker.sock');
  const configFile = join(dir.path, 'daemon.json');
  await writeFile(configFile, JSON.stringify({
    'storage-driver': 'vfs',
    iptables: false,
    ip6tables: false,
    'ip-forward': false,
    'ip-masq': false,
    bridge: 'none',
    'userland-proxy': false,
    'registry-mirrors': options.registryMirrors ?? [],
    'insecure-registries': options.insecureRegistries ?? [],
    'log-level': 'info',
  }, null, 2));
  const args = [
    '--config-file', configFile,
    '--data-root', join(dir.path, 'data'),
    '--exec-root', join(dir.path, 'exec'),
    '--pidfile', join(dir.path, 'docker.pid'),
    '-H', `unix://${socket}`,
  ];
  let containerd;
  try {
    containerd = await startContainerd(options.hostsFile ? { hostsFile: options.hostsFile } : {});
  } catch (error) {
    await dir.remove();
    throw error;
  }
  const privateContainerd = containerd;
  args.push('--containerd', privateContainerd.address, '--containerd-namespace', 'stowage-moby', '--containerd-plugins-namespace', 'stowage-plugins');
  // dockerd 20.10 writes /etc/docker/key.json and /run/docker/plugins whatever its flags say; in
  // its private namespace those paths are directories of ours.
  const privateDirs = { '/etc/docker': join(dir.path, 'etc-docker'), '/run/docker': join(dir.path, 'run-docker') };
  await Promise.all(Object.values(privateDirs).map((d) => mkdir(d)));
  const [command, commandArgs] = options.hostsFile ? withoutDockerHub(options.hostsFile, DOCKERD, args, privateDirs) : [DOCKERD, args];
  let daemon;
  try {
    daemon = await startDaemon({
      name: 'dockerd',
      command,
      args: commandArgs,
      // DOCKER_* from the caller's environment must not leak into the daemon's config.
      env: { PATH: process.env.PATH, HOME: dir.path },
      logFile: join(dir.path, 'dockerd.log'),
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      ready: () => ping(socket),
    });
  } catch (error) {
    await privateContainerd.close();
    await dir.remove();
    throw error;
  }
  const started = daemon;

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir.path,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: join(dir.path, 'cli'),
    DOCKER_CLI_HINTS: 'false',
  };
  const tryDocker = (cliArgs: string[]): Promise<RunResult> => run(DOCKER_CLI, cliArgs, { timeoutMs: options.commandTimeoutMs ?? 60_000, env });
  let closing: Promise<void> | undefined;
  return {
    host: `unix://${socket}`,
    pid: started.pid,
    configDir: env.DOCKER_CONFIG!,
    logTail: started.logTail,
    tryDocker,
    async docker(cliArgs) {
      const result = await tryDocker(cliArgs);
      if (result.code !== 0) {
        throw new Error(`docker ${cliArgs.join(' ')} exited with ${result.code}\n${result.stderr}${result.stdout}\n--- dockerd log ---\n${started.logTail(30)}`);
      }
      return result;
    },
    close: () => (closing ??= started.stop(15_000).finally(() => privateContainerd.close()).finally(() => dir.remove())),
  };
}

/** True when the Engine API answers `GET /_ping` with 200 on `socket`. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: socket, path: '/_ping', timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
