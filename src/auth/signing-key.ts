import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { algorithmFor, jwkThumbprint } from './jwt.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** ES256 for the P-256 key made here; RS256, ES384… for a key given as a file. */
  alg: string;
  /** RFC 7638 thumbprint, sent as the tokens' `kid`. */
  kid: string;
}

/**
 * The token signing key at `path` (PEM, PKCS#8 or SEC1/PKCS#1). When the file does not exist an
 * EC P-256 key is created there, mode 0600 in a 0700 directory; `wx` makes creation atomic, so two
 * processes starting at once end up with the same key. A key readable by others is used with a
 * warning.
 */
export async function loadSigningKey(path: string, logger: Logger): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
    const mode = (await stat(path)).mode & 0o077;
    if (mode !== 0) logger.warn({ path }, 'auth.token.signingKey is readable by other users: chmod 600 it');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`auth.token.signingKey: cannot read ${path}: ${(e as Error).message}`);
    pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    try {
      await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
      logger.info({ path }, 'created a token signing key (EC P-256, ES256)');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      pem = await readFile(path, 'utf8');
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`auth.token.signingKey: ${path} is not a PEM private key: ${(e as Error).message}`);
  }
  const alg = algorithmFor(privateKey);
  if (alg === null) throw new Error(`auth.token.signingKey: ${path}: unsupported key type ${privateKey.asymmetricKeyType} (use EC P-256/384/521, RSA or Ed25519)`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg, kid: jwkThumbprint(publicKey) };
}
