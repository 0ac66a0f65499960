/**
 * Runs a client or daemon with Docker Hub unreachable, so that a successful pull proves the mirror
 * (Stowage) served it: every client here silently falls back to Docker Hub when the mirror fails,
 * and on a CI machine with internet access that fallback would otherwise succeed.
 *
 * How: the command runs in its own mount namespace (`unshare -m`, private propagation) in which a
 * temp hosts file is bind-mounted over /etc/hosts, mapping Docker Hub's names to 127.0.0.1 (where
 * nothing listens on 80/443, so a fallback fails at once with "connection refused"). Go and glibc
 * resolvers both read /etc/hosts before DNS (nsswitch `hosts: files dns`).
 * Why this and not something else:
 * - editing the real /etc/hosts is global: it races with parallel test files and survives a crash;
 * - `HTTPS_PROXY` is honoured by some code paths only and is easy to bypass with NO_PROXY;
 * - a network namespace (`unshare -n`) has its own loopback, so Stowage on 127.0.0.1 would be
 *   unreachable too.
 * The namespace (and the bind mount) disappears with the last process in it; nothing on the host
 * changes. `unshare -m` without `--fork` execs in place, so the PID we track *is* the command's
 * (signals reach it directly). Requires root (CAP_SYS_ADMIN), which the daemon tests need anyway.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasTool } from './processes.js';

/** Every name a Docker Hub pull may contact (registry, auth, the index, the blob CDN). */
export const DOCKER_HUB_HOSTNAMES = [
  'docker.io',
  'registry-1.docker.io',
  'registry.docker.io',
  'index.docker.io',
  'auth.docker.io',
  'production.cloudflare.docker.com',
  'hub.docker.com',
] as const;

/** True when commands can be wrapped (root, `unshare` and `mount` present). */
export function canIsolateFromDockerHub(): boolean {
  return process.getuid?.() === 0 && hasTool('unshare') && hasTool('mount');
}

/** Writes a hosts file that keeps localhost and sends Docker Hub to 127.0.0.1; returns its path. */
export async function writeOfflineHosts(dir: string): Promise<string> {
  const file = join(dir, 'hosts');
  await writeFile(file, [
    '127.0.0.1 localhost',
    '::1 localhost ip6-localhost ip6-loopback',
    `127.0.0.1 ${DOCKER_HUB_HOSTNAMES.join(' ')}`,
    '',
  ].join('\n'));
  return file;
}

/**
 * `[command, args]` that run `command args…` with `hostsFile` as its /etc/hosts. `privateDirs` maps
 * host directories (created if missing, left empty) to temp directories bind-mounted over them in
 * the same namespace, for state a tool keeps at a fixed path (dockerd's /etc/docker/key.json,
 * netavark's /run/containers). The shell only sets up the mounts and then `exec`s, so the PID stays
 * the command's.
 */
export function withoutDockerHub(
  hostsFile: string,
  command: string,
  args: readonly string[],
  privateDirs: Readonly<Record<string, string>> = {},
): [string, string[]] {
  const script = [
    'hosts=$1; shift',
    'mount --bind "$hosts" /etc/hosts || exit 125',
    'while [ "$1" != -- ]; do mkdir -p "$1" && mount --bind "$2" "$1" || exit 125; shift 2; done',
    'shift',
    'exec "$@"',
  ].join('\n');
  const binds = Object.entries(privateDirs).flat();
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', hostsFile, ...binds, '--', command, ...args]];
}
