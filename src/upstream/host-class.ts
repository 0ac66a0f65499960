import { BlockList, isIP } from 'node:net';

/**
 * Classification of URL hosts for the redirect and realm policies. Only what the URL itself says
 * is judged: an IP literal or a `localhost` name. A DNS name that *resolves* to a private address
 * is not detected here (that needs a check at connect time, which a custom `lookup` in the Agent
 * could add later); this is a documented limitation of the policies that use it.
 */

/** Lower-cased host name without IPv6 brackets or a trailing dot. */
export function normalizeHostname(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

export const isIpLiteral = (hostname: string): boolean => isIP(normalizeHostname(hostname)) !== 0;

export function isLocalhostName(hostname: string): boolean {
  const host = normalizeHostname(hostname);
  return host === 'localhost' || host.endsWith('.localhost');
}

const PRIVATE_RANGES = new BlockList();
// IPv4: "this network", private, CGNAT, loopback, link-local, benchmarking, reserved.
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv4');
}
// IPv6: unspecified, loopback, unique-local, link-local.
PRIVATE_RANGES.addAddress('::', 'ipv6');
PRIVATE_RANGES.addAddress('::1', 'ipv6');
PRIVATE_RANGES.addSubnet('fc00::', 7, 'ipv6');
PRIVATE_RANGES.addSubnet('fe80::', 10, 'ipv6');

/** True for `localhost` names and for IP literals in loopback, private, link-local or reserved ranges. */
export function isPrivateHost(hostname: string): boolean {
  if (isLocalhostName(hostname)) return true;
  const host = normalizeHostname(hostname);
  const family = isIP(host);
  if (family === 4) return PRIVATE_RANGES.check(host, 'ipv4');
  // BlockList matches IPv4-mapped IPv6 (`::ffff:7f00:1`) against the IPv4 ranges too.
  if (family === 6) return PRIVATE_RANGES.check(host, 'ipv6');
  return false;
}
