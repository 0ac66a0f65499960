import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { algorithmFor, jwkThumbprint, libtrustKeyId } from './jwt.js';

/** A public key tokens may be signed with, and every `kid` it may be named by. */
export interface VerificationKey {
  key: KeyObject;
  kids: ReadonlySet<string>;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * The keys of an external token server (`auth.token.trust.keys`): each file is either a JWKS
 * (`{"keys":[…]}`), or PEM with public keys and/or certificates. A JWK is named by its `kid`; a PEM
 * key by its RFC 7638 thumbprint and its libtrust key ID (what docker_auth sends). Throws naming the
 * file when one holds nothing usable.
 */
export function loadTrustedKeys(files: readonly string[]): VerificationKey[] {
  const keys: VerificationKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`auth.token.trust.keys: cannot read ${file}: ${(e as Error).message}`);
    }
    const found = text.trimStart().startsWith('{') ? fromJwks(text, file) : fromPem(text, file);
    if (found.length === 0) throw new Error(`auth.token.trust.keys: ${file} holds no public key`);
    keys.push(...found);
  }
  return keys;
}

function fromJwks(text: string, file: string): VerificationKey[] {
  let jwks: { keys?: Array<Record<string, unknown>> };
  try {
    jwks = JSON.parse(text) as typeof jwks;
  } catch (e) {
    throw new Error(`auth.token.trust.keys: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return (jwks.keys ?? [])
    .filter((jwk) => jwk.use === undefined || jwk.use === 'sig')
    .map((jwk) => {
      const key = usable(createPublicKey({ key: jwk as never, format: 'jwk' }), file);
      return { key, kids: new Set([...(typeof jwk.kid === 'string' ? [jwk.kid] : []), jwkThumbprint(key)]) };
    });
}

function fromPem(text: string, file: string): VerificationKey[] {
  return [...text.matchAll(PEM_BLOCK)].map(([block, label]) => {
    let key: KeyObject;
    try {
      key = label === 'CERTIFICATE' ? new X509Certificate(block).publicKey : createPublicKey(block);
    } catch (e) {
      throw new Error(`auth.token.trust.keys: ${file}: a ${label} block is unreadable: ${(e as Error).message}`);
    }
    key = usable(key, file);
    return { key, kids: new Set([jwkThumbprint(key), libtrustKeyId(key)]) };
  });
}

function usable(key: KeyObject, file: string): KeyObject {
  if (algorithmFor(key) === null) throw new Error(`auth.token.trust.keys: ${file}: unsupported key type ${key.asymmetricKeyType}`);
  return key;
}
