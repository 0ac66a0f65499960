import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

/** A validated `algorithm:hex` content digest. Only values produced by `parseDigest` carry the brand. */
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_PATTERN.test(value);
}

/** Throws DIGEST_INVALID for anything that is not sha256/sha512 with lowercase hex of the right length. */
export function parseDigest(value: string | undefined | null): Digest {
  if (typeof value !== 'string' || !isDigest(value)) {
    throw new RegistryError('DIGEST_INVALID', { digest: value ?? null }, { message: 'invalid digest' });
  }
  return value;
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

/** An incremental hasher that yields a Digest of the same algorithm as the one it will be checked against. */
export class DigestHasher {
  private readonly hash: Hash;
  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
  }
}

