/**
 * Real clients against Stowage with access control, in both modes: skopeo (--creds, --authfile),
 * podman (login, push, pull) and containerd's ctr (--user) push and pull a hosted image, and a
 * wrong password fails each of them with an authentication error. Users are made with the real
 * `htpasswd -B`. Last, a token that expires in the middle of a skopeo push is replaced by the client
 * and the push completes (dockerd is in docker-auth.test.ts).
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizedClient, basic, parseChallenge, writeHtpasswd } from '../support/auth.js';
import { CONTAINERD, CTR, startContainerd, type Containerd } from '../support/containerd.js';
import { buildImage, writeDirTransport } from '../support/oci-layout.js';
import { createContainersClients, type ContainersClients } from '../support/podman.js';
import { requireTool, tempDir } from '../support/processes.js';
import { createSkopeo, type Skopeo } from '../support/skopeo.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const available = ['htpasswd', 'skopeo', 'podman', CONTAINERD, CTR].map(requireTool).every(Boolean);
const AUTH_ERROR = /unauthorized|authentication required|401/i;
// containerd presents its credentials with the scopes it wants: ones that do not verify get the
// anonymous grant (what a mirror pull with stale Docker Hub credentials needs), so a wrong password
// surfaces as the denied pull that follows.
const CTR_AUTH_ERROR = /unauthorized|authentication required|401|pull access denied.*insufficient_scope/i;
const RULES = [{ repos: ['team/**'], users: ['alice'], actions: ['pull', 'push', 'delete'] }];

describe.runIf(available)('real clients with access control', { timeout: 90_000 }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let htpasswd: string;
  let skopeo: Skopeo;
  let containerd: Containerd;
  const image = buildImage({ layers: 2, seed: 'auth-clients' });
  let source: string;
  const running: RunningStowage[] = [];

  beforeAll(async () => {
    work = await tempDir('auth-clients');
    htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw' });
    source = join(work.path, 'image');
    await writeDirTransport(source, image);
    skopeo = await createSkopeo({ timeoutMs: 60_000 });
    containerd = await startContainerd();
  }, 60_000);

  afterAll(async () => {
    await containerd?.close();
    await skopeo?.close();
    for (const stowage of running) await stowage.close();
    await work?.remove();
  }, 60_000);

  /** The rejection of `promise`, which must fail. */
  async function failure(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected the command to fail');
  }

  describe.each([
    ['Basic', {}],
    ['Bearer', { token: {} }],
  ] as const)('%s mode', (mode, token) => {
    let stowage: RunningStowage;
    let podman: ContainersClients;
    const reference = () => `${stowage.host}/team/app:1`;

    beforeAll(async () => {
      stowage = await startStowage({ config: { hosted: ['team/**'], auth: { htpasswd, access: RULES, ...token } } });
      running.push(stowage);
      podman = await createContainersClients({ mirror: stowage.host });
    });
    afterAll(() => podman?.close());

    it('skopeo pushes with --dest-creds and reads back with --creds the exact bytes; a wrong password is an authentication error', async () => {
      await skopeo.copy(`dir:${source}`, `docker://${reference()}`, ['--preserve-digests', '--dest-creds', 'alice:alice-pw']);
      expect((await skopeo.inspectRaw(`docker://${reference()}`, ['--creds', 'alice:alice-pw'])).equals(image.manifestBytes)).toBe(true);
      expect(await failure(skopeo.copy(`dir:${source}`, `docker://${stowage.host}/team/other:1`, ['--dest-creds', 'alice:wrong']))).toMatch(AUTH_ERROR);
      expect(await failure(skopeo.inspectRaw(`docker://${reference()}`, ['--creds', 'alice:wrong']))).toMatch(AUTH_ERROR);
      expect(await failure(skopeo.inspectRaw(`docker://${reference()}`))).toMatch(AUTH_ERROR);
      // Nothing was stored for the refused push.
      const anyone = new AuthorizedClient(stowage.url, basic('alice', 'alice-pw'));
      expect((await anyone.fetch('/v2/team/other/tags/list')).status).toBe(404);
      await anyone.close();
    });

    it('skopeo reads credentials from an --authfile', async () => {
      const authfile = join(work.path, `auth-${mode}.json`);
      await writeFile(authfile, JSON.stringify({ auths: { [stowage.host]: { auth: Buffer.from('alice:alice-pw').toString('base64') } } }));
      expect((await skopeo.inspectRaw(`docker://${reference()}`, ['--authfile', authfile])).equals(image.manifestBytes)).toBe(true);
    });

    it('podman login (right, then wrong password), pull with the stored credentials, push with --creds', async () => {
      const login = await podman.podman(['login', '--tls-verify=false', '-u', 'alice', '-p', 'alice-pw', stowage.host]);
      expect(login.stdout).toMatch(/Login Succeeded/);
      const wrong = await podman.tryPodman(['login', '--tls-verify=false', '-u', 'alice', '-p', 'wrong', stowage.host]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/unauthorized|invalid username\/password|authentication required/i);
      await podman.podman(['pull', '--tls-verify=false', '--signature-policy', podman.policy, reference()]);
      const inspected = JSON.parse((await podman.podman(['image', 'inspect', reference()])).stdout) as Array<{ Digest: string }>;
      expect(inspected[0]!.Digest).toBe(image.manifestDigest);
      await podman.podman(['tag', reference(), `${stowage.host}/team/podman:1`]);
      await podman.podman(['push', '--tls-verify=false', '--creds', 'alice:alice-pw', `${stowage.host}/team/podman:1`]);
      const pushed = await skopeo.inspect(`docker://${stowage.host}/team/podman:1`, ['--creds', 'alice:alice-pw']);
      expect(pushed.Layers).toHaveLength(2);
      const denied = await podman.tryPodman(['push', '--tls-verify=false', '--creds', 'alice:wrong', `${stowage.host}/team/podman:1`]);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(AUTH_ERROR);
    });

    it('ctr images pull --user pulls and unpacks it; a wrong password fails', async () => {
      const pulled = await containerd.ctr(['images', 'pull', '--plain-http', '--user', 'alice:alice-pw', '--snapshotter', 'native', reference()]);
      expect(pulled.stdout).toContain(image.manifestDigest.slice(7, 19));
      const listing = (await containerd.ctr(['images', 'ls'])).stdout;
      expect(listing.split('\n').some((line) => line.startsWith(reference()) && line.includes(image.manifestDigest))).toBe(true);
      await containerd.ctr(['images', 'rm', '--sync', reference()]);
      const wrong = await containerd.tryCtr(['images', 'pull', '--plain-http', '--user', 'alice:wrong', '--snapshotter', 'native', reference()]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr, wrong.stderr).toMatch(CTR_AUTH_ERROR);
    });
  });

  it('a token that expires in the middle of a push is replaced by the client, and the push completes', async () => {
    // Tokens live 60 s (the minimum). The layer's upload is answered as if it had taken a minute:
    // Stowage's clock, 59 s behind until then, jumps to 1 s ahead when the upload has been
    // decided, and a proxy holds that answer for 2.5 s. Clients reckon expiry from the response's
    // issued_at, so for the client and for Stowage alike the token the push started with has
    // expired before the push's next request (the config blob, then the manifest). One layer, so
    // no other upload runs during the jump.
    const single = buildImage({ layers: 1, seed: 'auth-clients/slow' });
    const singleDir = join(work.path, 'single');
    await writeDirTransport(singleDir, single);
    let offset = -59_000;
    const stowage = await startStowage({
      config: { hosted: ['team/**'], auth: { htpasswd, access: RULES, token: { ttl: '60s' } } },
      app: { now: () => Date.now() + offset },
    });
    running.push(stowage);
    let delayed = false;
    const tokenRequests: string[] = [];
    const proxy = http.createServer((request, response) => {
      if (request.url?.startsWith('/auth/token')) tokenRequests.push(request.url);
      const forward = http.request({ host: '127.0.0.1', port: Number(stowage.host.split(':')[1]), method: request.method, path: request.url, headers: request.headers }, (answer) => {
        const send = (): void => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        };
        if (!delayed && request.method === 'PUT' && /\/blobs\/uploads\/[^/?]+\?/.test(request.url ?? '')) {
          delayed = true;
          offset = 1000;
          setTimeout(send, 2500);
        } else {
          send();
        }
      });
      forward.on('error', () => response.destroy());
      request.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const early = (await (await fetch(`http://${host}/auth/token?service=Stowage&scope=repository:team/slow:pull`, { headers: { authorization: basic('alice', 'alice-pw') } })).json()) as { token: string };
      tokenRequests.length = 0;
      await skopeo.copy(`dir:${singleDir}`, `docker://${host}/team/slow:1`, ['--preserve-digests', '--dest-creds', 'alice:alice-pw']);

      expect(delayed).toBe(true);
      // A token for the push, and at least one more after the upload that took "a minute".
      expect(tokenRequests.filter((url) => url.includes('team%2Fslow')).length).toBeGreaterThanOrEqual(2);
      expect((await skopeo.inspectRaw(`docker://${host}/team/slow:1`, ['--creds', 'alice:alice-pw'])).equals(single.manifestBytes)).toBe(true);
      // A token from before the jump is refused now: without the refresh the push would have failed.
      const stale = await fetch(`http://${host}/v2/team/slow/tags/list`, { headers: { authorization: `Bearer ${early.token}` } });
      expect(stale.status).toBe(401);
      expect(parseChallenge(stale.headers.get('www-authenticate')).error).toBe('invalid_token');
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
