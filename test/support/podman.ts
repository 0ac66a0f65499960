/**
 * podman and skopeo (containers/image) configured with a registries.conf mirror for docker.io, for
 * client tests. Hermetic: one temp directory holds registries.conf, policy.json, storage.conf,
 * containers.conf, an empty auth file, podman's storage (vfs, `--root`/`--runroot`), its libpod
 * temp dir and network config dir, and HOME, XDG_* and TMPDIR; /etc/containers and /run/libpod are
 * neither read nor written. With `hostsFile`, each command runs with Docker Hub unreachable
 * (docker-hub-offline.ts) and with private /run/containers and /var/lib/containers (where skopeo
 * keeps its root-only blob-info cache, see skopeo.ts); without it those two are the host's.
 *
 *   [[registry]]
 *   prefix = "docker.io"
 *   location = "docker.io"
 *   [[registry.mirror]]
 *   location = "<mirror>"
 *   insecure = true
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withoutDockerHub } from './docker-hub-offline.js';
import { run, tempDir, type RunResult } from './processes.js';

export interface ContainersClientOptions {
  /** `host:port` of the docker.io mirror (plain HTTP: `insecure = true`). */
  mirror: string;
  /** Run every command with this file bind-mounted over /etc/hosts. */
  hostsFile?: string;
  /** Hard bound per command; default 60 s. */
  timeoutMs?: number;
}

export interface ContainersClients {
  /** The temp directory (podman storage under `storage/`). */
  dir: string;
  registriesConf: string;
  /** The accept-anything policy.json, for `podman pull --signature-policy`. */
  policy: string;
  /** `podman --root … --runroot … --storage-driver vfs ARGS`; throws on a non-zero exit. */
  podman(args: string[]): Promise<RunResult>;
  /** Like `podman`, but returns a non-zero exit instead of throwing. */
  tryPodman(args: string[]): Promise<RunResult>;
  /**
   * `skopeo … copy SOURCE DESTINATION` with the same registries.conf (skopeo 1.9 ignores
   * CONTAINERS_REGISTRIES_CONF; it takes the hidden per-command `--registries-conf`); throws on a
   * non-zero exit.
   */
  skopeoCopy(source: string, destination: string, flags?: string[]): Promise<RunResult>;
  /** Removes the temp directory (podman's storage included). */
  close(): Promise<void>;
}

export async function createContainersClients(options: ContainersClientOptions): Promise<ContainersClients> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = await tempDir('containers');
  const path = (...parts: string[]): string => join(dir.path, ...parts);
  const root = path('storage', 'root');
  const runroot = path('storage', 'run');
  await Promise.all(['tmp', 'libpod-tmp', 'networks', 'registries.d', 'home'].map((d) => mkdir(path(d), { recursive: true })));

  const registriesConf = path('registries.conf');
  await writeFile(registriesConf, [
    'unqualified-search-registries = []',
    '',
    '[[registry]]',
    'prefix = "docker.io"',
    'location = "docker.io"',
    '',
    '[[registry.mirror]]',
    `location = "${options.mirror}"`,
    'insecure = true',
    '',
  ].join('\n'));
  await writeFile(path('policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(path('auth.json'), JSON.stringify({ auths: {} }));
  await writeFile(path('storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
  // No systemd and no journald here; podman would otherwise try both.
  await writeFile(path('containers.conf'), '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n');

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path('home'),
    XDG_CONFIG_HOME: path('home', '.config'),
    XDG_DATA_HOME: path('home', '.local', 'share'),
    XDG_RUNTIME_DIR: path('tmp'),
    TMPDIR: path('tmp'),
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    CONTAINERS_STORAGE_CONF: path('storage.conf'),
    CONTAINERS_CONF: path('containers.conf'),
    REGISTRY_AUTH_FILE: path('auth.json'),
  };
  // Fixed paths containers/image and netavark use as root (auth lookups and the blob-info cache,
  // network state), made private in the commands' namespace.
  const privateDirs = { '/run/containers': path('run-containers'), '/var/lib/containers': path('var-lib-containers') };
  await Promise.all(Object.values(privateDirs).map((d) => mkdir(d)));
  const exec = (command: string, args: string[]): Promise<RunResult> => {
    const [wrapped, wrappedArgs] = options.hostsFile ? withoutDockerHub(options.hostsFile, command, args, privateDirs) : [command, args];
    return run(wrapped, wrappedArgs, { timeoutMs, env });
  };
  const checked = async (command: string, args: string[]): Promise<RunResult> => {
    const result = await exec(command, args);
    if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
    return result;
  };
  const podmanGlobal = [
    '--root', root,
    '--runroot', runroot,
    '--storage-driver', 'vfs',
    '--tmpdir', path('libpod-tmp'),
    '--network-config-dir', path('networks'),
    '--events-backend', 'none',
    '--cgroup-manager', 'cgroupfs',
  ];
  const skopeoGlobal = [
    '--policy', path('policy.json'),
    '--registries.d', path('registries.d'),
    '--tmpdir', path('tmp'),
    '--command-timeout', `${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s`,
  ];
  return {
    dir: dir.path,
    registriesConf,
    policy: path('policy.json'),
    podman: (args) => checked('podman', [...podmanGlobal, ...args]),
    tryPodman: (args) => exec('podman', [...podmanGlobal, ...args]),
    skopeoCopy: (source, destination, flags = []) =>
      checked('skopeo', [...skopeoGlobal, 'copy', '--registries-conf', registriesConf, '--authfile', path('auth.json'), ...flags, source, destination]),
    close: () => dir.remove(),
  };
}
