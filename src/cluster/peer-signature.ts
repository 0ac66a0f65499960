import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header that carries a replica's signature. */
export const PEER_HEADER = 'x-stowage-peer';
/** A signature is good for this long: enough for clock skew between replicas, short for a replay. */
const VALID_MS = 60_000;

/**
 * Signs and checks calls between replicas with `cluster.secret`: HMAC-SHA256 over the method, the
 * path and an expiry time, so a signature is good for one request target for a minute and says
 * nothing about the secret. Clients never have the secret, so they cannot reach the peer endpoints
 * (http/peer-routes.ts answers them as if the endpoints did not exist).
 */
export class PeerSignature {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, derived: the secret's other uses (the UI's session cookies) never share one.
    this.key = createHmac('sha256', secret).update('stowage peer calls v1').digest();
  }

  /** The header value for `method path`. */
  sign(method: string, path: string): string {
    const expires = this.now() + VALID_MS;
    return `${expires}.${this.mac(method, path, expires)}`;
  }

  /** Whether `value` is a current signature of `method path` by a holder of the secret. */
  verify(method: string, path: string, value: string | string[] | undefined): boolean {
    if (typeof value !== 'string') return false;
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return false;
    const expires = Number(match[1]);
    const now = this.now();
    if (expires <= now || expires > now + 2 * VALID_MS) return false;
    const given = Buffer.from(match[2]!);
    const expected = Buffer.from(this.mac(method, path, expires));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(method: string, path: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${method} ${path} ${expires}`).digest('base64url');
  }
}

/** The UI's session-cookie key when replicas share sessions: derived from the cluster secret. */
export function sessionKeyFromSecret(secret: string): Buffer {
  return createHmac('sha256', secret).update('stowage ui sessions v1').digest();
}
