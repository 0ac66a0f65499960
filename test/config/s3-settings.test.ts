import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';

const load = (storage: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ file: null, env, overrides: { storage } });

describe('storage.s3', () => {
  it('takes the issue\'s keys with their defaults; the prefix ends in a slash', () => {
    const config = load({ driver: 's3', s3: { endpoint: 'http://127.0.0.1:17480', bucket: 'stowage', prefix: 'team/cache' } });
    expect(config.storage.s3).toEqual({
      endpoint: 'http://127.0.0.1:17480',
      bucket: 'stowage',
      region: 'us-east-1',
      accessKeyId: undefined,
      secretAccessKey: undefined,
      forcePathStyle: true,
      prefix: 'team/cache/',
      redirect: false,
      publicEndpoint: null,
    });
    expect(load({}).storage).toMatchObject({ driver: 'fs', s3: null });
  });

  it('comes from the environment, the secret from a file', async () => {
    const secret = join(await mkdtemp(join(tmpdir(), 'stowage-s3-secret-')), 'key');
    await writeFile(secret, 'wJalrXUtnFEMI/K7MDENG\n');
    const config = loadConfig({
      file: null,
      overrides: {},
      env: {
        STOWAGE_STORAGE_DRIVER: 's3',
        STOWAGE_STORAGE_S3_BUCKET: 'b',
        STOWAGE_STORAGE_S3_ACCESS_KEY_ID: 'AKIA1',
        STOWAGE_STORAGE_S3_SECRET_ACCESS_KEY_FILE: secret,
        STOWAGE_STORAGE_S3_REDIRECT: 'true',
        STOWAGE_STORAGE_S3_PUBLIC_ENDPOINT: 'https://blobs.example.com',
      },
    });
    expect(config.storage.s3).toMatchObject({ bucket: 'b', accessKeyId: 'AKIA1', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG', redirect: true, publicEndpoint: 'https://blobs.example.com' });
  });

  it('refuses what cannot work, naming the key', () => {
    expect(() => load({ driver: 's3' })).toThrow(/storage\.s3: storage\.driver is s3, so storage\.s3\.bucket/);
    expect(() => load({ s3: { bucket: 'b' } })).toThrow(/storage\.s3: is set but storage\.driver is fs/);
    expect(() => load({ driver: 's3', s3: { region: 'eu-west-1' } })).toThrow(/storage\.s3\.bucket/);
    expect(() => load({ driver: 's3', s3: { bucket: 'b', accessKeyId: 'AKIA1' } })).toThrow(/accessKeyId and secretAccessKey go together/);
    expect(() => load({ driver: 's3', s3: { bucket: 'b', endpoint: 'ftp://x' } })).toThrow(/storage\.s3\.endpoint: expected an http\(s\) URL/);
    expect(() => load({ driver: 's3', s3: { bucket: 'b', publicEndpoint: 'https://x/path?q' } })).toThrow(/storage\.s3\.publicEndpoint/);
    expect(() => load({ driver: 's3', s3: { bucket: 'b', prefix: '../x' } })).toThrow(/storage\.s3\.prefix/);
    expect(() => load({ driver: 's3', s3: { bucket: 'b', bucketName: 'x' } })).toThrow(/storage\.s3\.bucketName: unknown key/);
  });
});
