import { readFileSync } from 'node:fs';

/**
 * Credentials for `host` from a Docker config.json (`docker login` writes it): the `auths` entry
 * keyed by the host, its https:// URL, or — for Docker Hub — the legacy `https://index.docker.io/v1/`.
 * Credential helpers (`credsStore`) are not run: Stowage never executes external programs.
 */
export function dockerConfigCredentials(file: string, hosts: string[]): { username: string; password: string } | null {
  let auths: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  try {
    auths = (JSON.parse(readFileSync(file, 'utf8')) as { auths?: typeof auths }).auths ?? {};
  } catch (e) {
    throw new Error(`cannot read Docker config ${file}: ${(e as Error).message}`);
  }
  const keys = new Map(Object.keys(auths).map((key) => [normalize(key), key]));
  for (const host of hosts) {
    const key = keys.get(normalize(host));
    const entry = key === undefined ? undefined : auths[key];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return null;
}

/** `https://index.docker.io/v1/` → `index.docker.io`. */
function normalize(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase();
}

/** The auths keys an upstream may be stored under. */
export function credentialHosts(name: string, url: string): string[] {
  const host = new URL(url).host;
  const dockerHub = name === 'docker.io' || host.endsWith('docker.io');
  return dockerHub ? [host, name, 'index.docker.io', 'registry-1.docker.io', 'docker.io'] : [host, name];
}
