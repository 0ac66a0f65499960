/**
 * Basic mode (an `auth` section without `token`): users from an htpasswd file written by the real
 * `htpasswd -B`, the rules of the issue's example, and every decision as a client sees it — status,
 * error code, challenge — including the guarantee that a denied request for an uncached proxied
 * image reaches no upstream (the fake hubs' request counters), whichever way the name is addressed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { expectOciError } from '../http/registry-client.js';
import { parseExposition } from '../metrics/exposition.js';
import { AuthorizedClient, basic, htpasswdLine, writeHtpasswd } from '../support/auth.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool, runChecked, tempDir, waitFor } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const RULES = [
  { repos: ['team/**'], users: ['alice'], actions: ['pull', 'push', 'delete'] },
  { repos: ['team/shared/**'], users: ['*'], actions: ['pull'] },
  { repos: ['team/bob/**'], users: ['bob'], actions: ['pull', 'push'] },
  { repos: ['docker.io/**'], users: ['anonymous', '*'], actions: ['pull'] },
];

describe.runIf(requireTool('htpasswd'))('Basic mode', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hub: FakeHub;
  let ghcr: FakeHub;
  let stowage: RunningStowage;
  let htpasswd: string;
  const logs: string[] = [];
  const clients: AuthorizedClient[] = [];
  const as = (authorization?: string): AuthorizedClient => {
    const client = new AuthorizedClient(stowage.url, authorization);
    clients.push(client);
    return client;
  };
  let alice: AuthorizedClient;
  let bob: AuthorizedClient;
  let admin: AuthorizedClient;
  let anonymous: AuthorizedClient;

  beforeAll(async () => {
    work = await tempDir('auth-basic');
    hub = await startFakeHub({ auth: 'none' });
    ghcr = await startFakeHub({ auth: 'none' });
    hub.addImage('library/alpine', '3.20');
    ghcr.addImage('owner/app', '1');
    htpasswd = join(work.path, 'htpasswd');
    // An MD5 entry (htpasswd -m) is refused: fast hashes are not accepted.
    const md5 = await runChecked('htpasswd', ['-nbm', 'dave', 'davepw'], { timeoutMs: 10_000 });
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw' }, [md5.stdout.trim()]);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url }, 'ghcr.io': { url: ghcr.url } },
        defaultUpstream: 'docker.io',
        auth: { htpasswd, admins: ['admin'], access: RULES },
        metrics: { auth: true },
      },
      app: { logger: pino({ level: 'info' }, sink) },
    });
    alice = as(basic('alice', 'alice-pw'));
    bob = as(basic('bob', 'bob-pw'));
    admin = as(basic('admin', 'admin-pw'));
    anonymous = as();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stowage?.close();
    await hub?.close();
    await ghcr?.close();
    await work?.remove();
  });

  /** 401 UNAUTHORIZED with the Basic challenge. */
  async function expectChallenge(response: Awaited<ReturnType<AuthorizedClient['fetch']>>): Promise<void> {
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="Stowage", charset="UTF-8"');
    await expectOciError(response, 401, 'UNAUTHORIZED');
  }

  describe('GET /v2/', () => {
    it('is 401 with the Basic challenge without credentials, though some repositories are anonymously readable', async () => {
      await expectChallenge(await anonymous.fetch('/v2/'));
    });

    it('is 200 with a right password, 401 with a wrong one or an unknown user', async () => {
      const ok = await alice.fetch('/v2/');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
      await expectChallenge(await as(basic('alice', 'wrong')).fetch('/v2/'));
      await expectChallenge(await as(basic('mallory', 'alice-pw')).fetch('/v2/'));
      await expectChallenge(await as('Basic !!!not-base64').fetch('/v2/'));
      await expectChallenge(await as('Bearer something').fetch('/v2/'));
    });

    it('refuses a non-bcrypt htpasswd entry, with a warning naming its line (not its hash)', async () => {
      await expectChallenge(await as(basic('dave', 'davepw')).fetch('/v2/'));
      const warning = logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.user === 'dave');
      expect(warning).toMatchObject({ level: 40, line: 4, file: htpasswd });
      expect(String(warning!.msg)).toMatch(/not a bcrypt hash.*htpasswd -B/);
      expect(logs.join('')).not.toContain('$apr1$');
    });
  });

  describe('hosted repositories', () => {
    it('alice pushes team/app; bob gets 403 DENIED for pushing or reading it; anonymous gets the challenge, never 404', async () => {
      await alice.pushImage('team/app', 'v1', { seed: 'team/app' });
      const pushByBob = await bob.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
      const error = await expectOciError(pushByBob, 403, 'DENIED');
      expect(error.detail).toEqual({ type: 'repository', name: 'team/app', action: 'push' });
      await expectOciError(await bob.fetch('/v2/team/app/manifests/v1'), 403, 'DENIED');
      await expectChallenge(await anonymous.fetch('/v2/team/app/manifests/v1'));
      const head = await anonymous.fetch('/v2/team/app/manifests/v1', { method: 'HEAD' });
      expect(head.status).toBe(401);
      expect(head.headers.get('www-authenticate')).toBe('Basic realm="Stowage", charset="UTF-8"');
      await expectChallenge(await anonymous.fetch('/v2/team/does-not-exist/manifests/v1'));
      await expectChallenge(await anonymous.fetch('/v2/team/app/blobs/uploads/', { method: 'POST' }));
    });

    it('rules add up: bob reads team/shared/** (any signed-in user) and pushes into team/bob/**', async () => {
      await alice.pushImage('team/shared/lib', '1', { seed: 'shared' });
      const pulled = await bob.fetch('/v2/team/shared/lib/manifests/1', { headers: { accept: MediaType.OciManifest } });
      expect(pulled.status).toBe(200);
      await bob.pushImage('team/bob/tool', '1', { seed: 'bob' });
      await expectOciError(await bob.fetch('/v2/team/shared/lib/manifests/1', { method: 'DELETE' }), 403, 'DENIED');
    });

    it('deleting needs the delete action: alice may, bob may not even in his own namespace, the admin may anywhere', async () => {
      const image = await alice.pushImage('team/app', 'to-delete', { seed: 'to-delete' });
      await expectOciError(await bob.fetch(`/v2/team/bob/tool/manifests/1`, { method: 'DELETE' }), 403, 'DENIED');
      expect((await alice.fetch(`/v2/team/app/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
      const other = await alice.pushImage('team/app', 'admin-deletes', { seed: 'admin-deletes' });
      expect((await admin.fetch(`/v2/team/app/manifests/${other.digest}`, { method: 'DELETE' })).status).toBe(202);
    });

    it('a cross-repository mount needs pull on `from`: without it the mount quietly becomes a 202 upload session', async () => {
      const image = await alice.pushImage('team/app', 'mount-source', { seed: 'mount-source' });
      const layer = JSON.parse(image.manifest.toString()).layers[0].digest as string;
      const denied = await bob.fetch(`/v2/team/bob/tool/blobs/uploads/?mount=${layer}&from=team/app`, { method: 'POST' });
      expect(denied.status).toBe(202);
      expect(denied.headers.get('location')).toMatch(/^\/v2\/team\/bob\/tool\/blobs\/uploads\//);
      expect((await bob.fetch(`/v2/team/bob/tool/blobs/${layer}`, { method: 'HEAD' })).status).toBe(404);

      const shared = await alice.pushImage('team/shared/lib', 'mount', { seed: 'shared-mount' });
      const sharedLayer = JSON.parse(shared.manifest.toString()).layers[0].digest as string;
      const allowed = await bob.fetch(`/v2/team/bob/tool/blobs/uploads/?mount=${sharedLayer}&from=team/shared/lib`, { method: 'POST' });
      expect(allowed.status).toBe(201);
      expect((await alice.fetch(`/v2/team/other/blobs/uploads/?mount=${layer}&from=team/app`, { method: 'POST' })).status).toBe(201);
    });

    it('a mount without `from` (automatic content discovery) finds only repositories the caller may pull', async () => {
      const image = await alice.pushImage('team/app', 'discovery', { seed: 'discovery' });
      const layer = JSON.parse(image.manifest.toString()).layers[0].digest as string;
      const denied = await bob.fetch(`/v2/team/bob/tool/blobs/uploads/?mount=${layer}`, { method: 'POST' });
      expect(denied.status).toBe(202);
      expect((await bob.fetch(`/v2/team/bob/tool/blobs/${layer}`, { method: 'HEAD' })).status).toBe(404);
      const found = await alice.fetch(`/v2/team/third/blobs/uploads/?mount=${layer}`, { method: 'POST' });
      expect(found.status).toBe(201);
      expect((await alice.fetch(`/v2/team/third/blobs/${layer}`, { method: 'HEAD' })).status).toBe(200);
    });
  });

  describe('proxied repositories: matched by their canonical name <upstream>/<repository>', () => {
    const forms = [
      ['the default upstream', '/v2/library/alpine/manifests/3.20'],
      ['a single-component name', '/v2/alpine/manifests/3.20'],
      ['?ns=docker.io', '/v2/library/alpine/manifests/3.20?ns=docker.io'],
      ['the path prefix', '/v2/docker.io/library/alpine/manifests/3.20'],
    ];
    it.each(forms)('anonymous pull of docker.io/** works through %s', async (_form, path) => {
      const response = await anonymous.fetch(path, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(response.headers.get('content-type')).toBe(MediaType.OciManifest);
    });

    it('a denied pull of an uncached image makes zero upstream requests, however it is addressed', async () => {
      hub.reset();
      ghcr.reset();
      for (const path of ['/v2/ghcr.io/owner/app/manifests/1', '/v2/owner/app/manifests/1?ns=ghcr.io', '/v2/ghcr.io/owner/app/blobs/sha256:' + 'a'.repeat(64)]) {
        await expectChallenge(await anonymous.fetch(path));
        await expectOciError(await bob.fetch(path), 403, 'DENIED');
      }
      // An `ns` that is not configured: anonymous callers see the challenge, not the configuration.
      await expectChallenge(await anonymous.fetch('/v2/owner/app/manifests/1?ns=quay.io'));
      expect(ghcr.requests).toEqual([]);
      expect(hub.requests).toEqual([]);
    });

    it('a rule for docker.io/** cannot be stretched to another upstream through ?ns= or a prefix', async () => {
      // bob may pull docker.io/library/alpine; the same name under ghcr.io is another repository.
      await expectOciError(await bob.fetch('/v2/library/alpine/manifests/3.20?ns=ghcr.io'), 403, 'DENIED');
      expect(ghcr.requests).toEqual([]);
    });

    it('stays read-only for everyone, admins included (405 UNSUPPORTED), with no upstream request', async () => {
      hub.reset();
      await expectOciError(await admin.fetch('/v2/library/alpine/blobs/uploads/', { method: 'POST' }), 405, 'UNSUPPORTED');
      await expectOciError(await bob.fetch('/v2/library/alpine/blobs/uploads/', { method: 'POST' }), 403, 'DENIED');
      expect(hub.requests).toEqual([]);
    });
  });

  describe('catalog', () => {
    it('lists only what the caller may pull; n, last and Link count the filtered list', async () => {
      const list = async (client: AuthorizedClient, query = ''): Promise<{ repositories: string[]; link: string | null }> => {
        const response = await client.fetch(`/v2/_catalog${query}`);
        expect(response.status).toBe(200);
        return { ...((await response.json()) as { repositories: string[] }), link: response.headers.get('link') };
      };
      expect((await list(admin)).repositories).toEqual(['docker.io/library/alpine', 'team/app', 'team/bob/tool', 'team/shared/lib']);
      expect((await list(bob)).repositories).toEqual(['docker.io/library/alpine', 'team/bob/tool', 'team/shared/lib']);
      expect((await list(anonymous)).repositories).toEqual(['docker.io/library/alpine']);
      const first = await list(bob, '?n=2');
      expect(first.repositories).toEqual(['docker.io/library/alpine', 'team/bob/tool']);
      expect(first.link).toBe('</v2/_catalog?n=2&last=team%2Fbob%2Ftool>; rel="next"');
      const second = await list(bob, '?n=2&last=team%2Fbob%2Ftool');
      expect(second).toEqual({ repositories: ['team/shared/lib'], link: null });
    });
  });

  describe('htpasswd changes apply without a restart', () => {
    it('a new user signs in within 5 s; a removed one is refused as quickly (remembered verdicts are dropped)', async () => {
      const carol = as(basic('carol', 'carol-pw'));
      expect((await carol.fetch('/v2/')).status).toBe(401);
      expect((await alice.fetch('/v2/')).status).toBe(200); // remembered now
      const lines = await Promise.all([htpasswdLine('carol', 'carol-pw'), htpasswdLine('bob', 'bob-pw'), htpasswdLine('admin', 'admin-pw')]);
      await writeFile(htpasswd, `${lines.join('\n')}\n`);
      const started = Date.now();
      await waitFor(async () => (await carol.fetch('/v2/')).status === 200, { timeoutMs: 5000, intervalMs: 200, description: 'carol to sign in' });
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await alice.fetch('/v2/')).status).toBe(401);
    });
  });

  describe('metrics.auth and probes', () => {
    it('/metrics wants an admin: 401 with a Basic challenge, 403 for other users, 200 for the admin', async () => {
      const none = await anonymous.fetch('/metrics');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Basic realm="Stowage", charset="UTF-8"');
      await expectOciError(await bob.fetch('/metrics'), 403, 'DENIED');
      const ok = await admin.fetch('/metrics');
      expect(ok.status).toBe(200);
      const metrics = parseExposition(await ok.text());
      expect(metrics.value('stowage_auth_failures_total', { kind: 'password' })).toBeGreaterThan(0);
    });

    it('/healthz and /readyz need no credentials', async () => {
      expect((await anonymous.fetch('/healthz')).status).toBe(200);
      expect((await anonymous.fetch('/readyz')).status).toBe(200);
    });
  });

  it('never logs a password or an Authorization header', () => {
    const text = logs.join('');
    expect(text).toContain('"url":"/v2/'); // request logging was on
    for (const secret of ['alice-pw', 'bob-pw', 'admin-pw', Buffer.from('alice:alice-pw').toString('base64')]) expect(text).not.toContain(secret);
  });
});
