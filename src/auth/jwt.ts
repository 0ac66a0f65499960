import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Compact JWS (JSON Web Tokens) on node:crypto, asymmetric algorithms only. `HS*` and `none` are not
 * in the table, so a token can never be "verified" with a public key used as an HMAC secret, nor
 * without a signature; an algorithm is used only with a key of its own type (and curve). Why not a
 * library: this is all a registry needs of JOSE, it stays synchronous on the request path, and the
 * allowlist below is the whole attack surface (docs/auth.md).
 */
type Algorithm = { hash: string | null; keyType: string; curve?: string; pss?: boolean };
export const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1' },
  ES512: { hash: 'sha512', keyType: 'ec', curve: 'secp521r1' },
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa', pss: true },
  PS384: { hash: 'sha384', keyType: 'rsa', pss: true },
  PS512: { hash: 'sha512', keyType: 'rsa', pss: true },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
}

export interface DecodedJwt {
  header: JwtHeader;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The algorithm that signs with `key`, or null for a key type JWTs cannot use here. */
export function algorithmFor(key: KeyObject): string | null {
  for (const [name, algorithm] of Object.entries(ALGORITHMS)) {
    if (!algorithm.pss && fits(algorithm, key)) return name;
  }
  return null;
}

function fits(algorithm: Algorithm, key: KeyObject): boolean {
  const keyType = key.asymmetricKeyType === 'rsa-pss' ? 'rsa' : key.asymmetricKeyType;
  return keyType === algorithm.keyType && (algorithm.curve === undefined || key.asymmetricKeyDetails?.namedCurve === algorithm.curve);
}

const signOptions = (algorithm: Algorithm, key: KeyObject) => ({
  key,
  dsaEncoding: 'ieee-p1363' as const, // JWS signs ECDSA as r‖s, not DER
  ...(algorithm.pss ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 /* = digest length */ } : {}),
});

export function signJwt(header: JwtHeader, payload: Record<string, unknown>, key: KeyObject): string {
  const algorithm = ALGORITHMS[header.alg];
  if (!algorithm || !fits(algorithm, key)) throw new Error(`cannot sign ${header.alg} with this key`);
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = sign(algorithm.hash, Buffer.from(signingInput), signOptions(algorithm, key));
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Splits and parses a compact JWT without checking anything; null when it is not one. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[0]! + parts[1]! + parts[2]!)) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as JwtHeader;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof header !== 'object' || header === null || typeof header.alg !== 'string') return null;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
    // `crit` names extensions the verifier must understand; we understand none.
    if ('crit' in header) return null;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return null;
  }
}

/** Whether `jwt` is signed by `key` with its header's algorithm, which must fit the key. */
export function verifyJwtSignature(jwt: DecodedJwt, key: KeyObject): boolean {
  const algorithm = ALGORITHMS[jwt.header.alg];
  if (!algorithm || !fits(algorithm, key)) return false;
  try {
    return verify(algorithm.hash, Buffer.from(jwt.signingInput), signOptions(algorithm, key), jwt.signature);
  } catch {
    return false;
  }
}

/** RFC 7638 JWK thumbprint of a public key: the `kid` of keys Stowage makes itself. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const members: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };
  const names = members[jwk.kty as string] ?? [];
  const canonical = `{${names.map((name) => `"${name}":${JSON.stringify(jwk[name])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * The key ID docker/libtrust derives (and token servers such as docker_auth put in `kid`): the
 * SHA-256 of the DER public key, first 240 bits, base32 without padding, in groups of four.
 */
export function libtrustKeyId(key: KeyObject): string {
  const digest = createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of digest) bits += byte.toString(2).padStart(8, '0');
  let text = '';
  for (let i = 0; i < bits.length; i += 5) text += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return text.match(/.{4}/g)!.join(':');
}
