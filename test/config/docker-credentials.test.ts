import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';

async function dockerConfig(auths: Record<string, unknown>): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'stowage-dockercfg-')), 'config.json');
  await writeFile(file, JSON.stringify({ auths }));
  return file;
}

const load = (upstreams: Record<string, unknown>) =>
  loadConfig({ file: null, env: {}, overrides: { upstreams, defaultUpstream: null } });

describe('upstream credentials from a Docker config.json', () => {
  it('reads Docker Hub credentials from the legacy index.docker.io key (base64 auth)', async () => {
    const file = await dockerConfig({ 'https://index.docker.io/v1/': { auth: Buffer.from('alice:s3cr:et').toString('base64') } });
    const config = load({ 'docker.io': { url: 'https://registry-1.docker.io', dockerConfig: file } });
    expect(config.upstreams['docker.io']).toMatchObject({ username: 'alice', password: 's3cr:et' });
  });

  it('matches other registries by host, with username/password fields', async () => {
    const file = await dockerConfig({ 'ghcr.io': { username: 'bob', password: 'tok' }, 'quay.io': { auth: 'eDp5' } });
    const config = load({ 'ghcr.io': { url: 'https://ghcr.io', dockerConfig: file } });
    expect(config.upstreams['ghcr.io']).toMatchObject({ username: 'bob', password: 'tok' });
  });

  it('fails startup with a message naming the key when the host has no entry or the file is unreadable', async () => {
    const file = await dockerConfig({ 'quay.io': { auth: 'eDp5' } });
    expect(() => load({ 'ghcr.io': { url: 'https://ghcr.io', dockerConfig: file } })).toThrow(/upstreams\.ghcr\.io\.dockerConfig: no credentials for ghcr\.io/);
    expect(() => load({ 'ghcr.io': { url: 'https://ghcr.io', dockerConfig: '/nonexistent/config.json' } })).toThrow(/upstreams\.ghcr\.io\.dockerConfig: cannot read/);
  });

  it('explicit username/password win, and one without the other is refused', () => {
    expect(() => load({ 'ghcr.io': { url: 'https://ghcr.io', username: 'x' } })).toThrow(/username and password go together/);
  });
});
