import { isIpLiteral, isLocalhostName, normalizeHostname } from './host-class.js';

/**
 * Who may receive an upstream's configured credentials (behaviour 15, cf. CVE-2026-33540 in
 * distribution): a registry chooses its token realm through `WWW-Authenticate`, so a hostile or
 * compromised registry (or a redirect target) could name any host as realm and harvest the Basic
 * credentials sent there. Credentials therefore go only to
 *
 * - the upstream's own host, or a host on the same registrable domain (eTLD+1):
 *   `registry-1.docker.io` → `auth.docker.io` is allowed (both `docker.io`);
 * - an IP-literal or `localhost` realm only when it *is* the upstream's own host (an IP has no
 *   registrable domain, and "localhost" on the proxy is not the upstream's machine);
 * - never over plain http when the upstream itself is https.
 *
 * A realm that fails the policy still gets an anonymous token request: public images keep working.
 *
 * Limitation: there is no full Public Suffix List. The registrable domain is the last two labels, or
 * three when the last two are a multi-label public suffix from the short built-in list below. An
 * unlisted multi-label suffix (say `foo.bar.example` where `bar.example` is public) makes the policy
 * too permissive for hosts under that suffix; adding a suffix only ever makes it stricter.
 */
export function mayReceiveCredentials(upstream: URL, realm: URL): boolean {
  if (upstream.protocol === 'https:' && realm.protocol !== 'https:') return false;
  const upstreamHost = normalizeHostname(upstream.hostname);
  const realmHost = normalizeHostname(realm.hostname);
  if (realmHost === upstreamHost) return true;
  if (isIpLiteral(realmHost) || isLocalhostName(realmHost)) return false;
  if (isIpLiteral(upstreamHost) || isLocalhostName(upstreamHost)) return false;
  const realmDomain = registrableDomain(realmHost);
  return realmDomain !== null && realmDomain === registrableDomain(upstreamHost);
}

/**
 * Multi-label public suffixes: country second-level domains, and shared hosting platforms where
 * sibling subdomains belong to different tenants (`a.azurecr.io` must not get `b.azurecr.io`'s
 * credentials).
 */
const MULTI_LABEL_PUBLIC_SUFFIXES: ReadonlySet<string> = new Set([
  // Country second-level domains.
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'ltd.uk', 'plc.uk', 'net.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au', 'id.au',
  'co.nz', 'org.nz', 'net.nz', 'govt.nz',
  'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'go.jp',
  'co.kr', 'or.kr', 'ne.kr',
  'com.br', 'net.br', 'org.br', 'gov.br',
  'com.cn', 'net.cn', 'org.cn', 'gov.cn', 'edu.cn',
  'com.hk', 'com.tw', 'com.sg', 'com.my', 'com.mx', 'com.ar', 'com.tr', 'com.ua', 'com.pl',
  'co.in', 'net.in', 'org.in', 'co.za', 'co.il', 'co.id', 'co.th', 'com.vn',
  // Multi-tenant platforms (from the PSL's private section).
  'azurecr.io', 'azurewebsites.net', 'cloudapp.net', 'blob.core.windows.net',
  'amazonaws.com', 's3.amazonaws.com', 'cloudfront.net', 'elasticbeanstalk.com',
  'appspot.com', 'run.app', 'web.app', 'firebaseapp.com', 'pkg.dev',
  'github.io', 'githubusercontent.com', 'gitlab.io', 'pages.dev', 'workers.dev', 'r2.dev',
  'herokuapp.com', 'netlify.app', 'vercel.app', 'fly.dev', 'onrender.com',
  'digitaloceanspaces.com', 'ngrok.io', 'ngrok-free.app',
]);

/** The registrable domain (eTLD+1) of a DNS name, or null for an IP, a single label or a bare suffix. */
export function registrableDomain(hostname: string): string | null {
  const host = normalizeHostname(hostname);
  if (isIpLiteral(host)) return null;
  const labels = host.split('.');
  if (labels.length < 2 || labels.some((l) => l === '')) return null;
  // Longest listed suffix wins (`blob.core.windows.net` before `windows.net`).
  for (let suffixLength = Math.min(labels.length - 1, 4); suffixLength >= 2; suffixLength--) {
    const suffix = labels.slice(-suffixLength).join('.');
    if (MULTI_LABEL_PUBLIC_SUFFIXES.has(suffix)) return labels.slice(-(suffixLength + 1)).join('.');
  }
  if (MULTI_LABEL_PUBLIC_SUFFIXES.has(host)) return null;
  return labels.slice(-2).join('.');
}
