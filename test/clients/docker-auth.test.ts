/**
 * dockerd (Debian's docker.io 20.10, classic store) against Stowage in Bearer mode, with Docker Hub
 * unreachable for the daemon (docker-hub-offline.ts), so every success below came through Stowage:
 * - an anonymous `registry-mirrors` pull of a Docker Hub image works through the token flow — also
 *   when the CLI's config.json holds Docker Hub credentials, which dockerd presents to the mirror;
 * - `docker login` fails with a wrong password and succeeds with the right one;
 * - `docker push` into a hosted repository with the stored credentials.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { parseExposition } from '../metrics/exposition.js';
import { basic, writeHtpasswd } from '../support/auth.js';
import { canIsolateFromDockerHub, writeOfflineHosts } from '../support/docker-hub-offline.js';
import { DOCKER_CLI, DOCKERD, startDockerd, type Dockerd } from '../support/dockerd.js';
import { startMirrorFixture, type Mirror, type MirrorFixture } from '../support/mirror-fixture.js';
import { requireTool, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY } from '../support/reference-registry.js';

const available = [DOCKERD, DOCKER_CLI, REFERENCE_REGISTRY_BINARY, 'skopeo', 'unshare', 'htpasswd'].map(requireTool).every(Boolean);
if (available && !canIsolateFromDockerHub() && process.env.CI) throw new Error('docker client tests need root (a private mount namespace)');

describe.runIf(available && canIsolateFromDockerHub())('dockerd with Stowage in Bearer mode', { timeout: 90_000 }, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let fixture: MirrorFixture;
  let mirror: Mirror;
  let dockerd: Dockerd;

  beforeAll(async () => {
    work = await tempDir('docker-auth');
    const htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw' });
    fixture = await startMirrorFixture();
    mirror = await fixture.startMirror({
      auth: {
        htpasswd,
        token: {},
        access: [
          { repos: ['team/**'], users: ['alice'], actions: ['pull', 'push'] },
          { repos: ['docker.io/**'], users: ['anonymous', '*'], actions: ['pull'] },
        ],
      },
    });
    dockerd = await startDockerd({
      registryMirrors: [mirror.stowage.url],
      insecureRegistries: [mirror.stowage.host],
      hostsFile: await writeOfflineHosts(work.path),
    });
  }, 120_000);

  afterAll(async () => {
    await dockerd?.close();
    await fixture?.close();
    await work?.remove();
  }, 60_000);

  const passwordFailures = async (): Promise<number> =>
    parseExposition(await (await fetch(`${mirror.stowage.url}/metrics`)).text()).value('stowage_auth_failures_total', { kind: 'password' })!;

  it('pulls alpine anonymously through registry-mirrors, with Docker Hub credentials in config.json presented and refused', async () => {
    await mkdir(dockerd.configDir, { recursive: true });
    await writeFile(join(dockerd.configDir, 'config.json'), JSON.stringify({
      auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub-user:hub-password').toString('base64') } },
    }));
    const failuresBefore = await passwordFailures();
    fixture.resetCounters();
    await dockerd.docker(['pull', 'alpine']);

    const pulled = JSON.parse((await dockerd.docker(['image', 'inspect', 'alpine'])).stdout) as Array<{ RepoDigests: string[] }>;
    expect(pulled[0]!.RepoDigests).toContain(`alpine@${fixture.image.manifestDigest}`);
    // The challenge on /v2/, a token from Stowage's own endpoint, then the pull with it.
    expect(mirror.requests).toContainEqual({ method: 'GET', url: '/v2/', status: 401 });
    const tokens = mirror.requests.filter((r) => r.url.startsWith('/auth/token'));
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((r) => r.status === 200 && r.url.includes('scope=repository%3Alibrary%2Falpine%3Apull'))).toBe(true);
    expect(mirror.requests).toContainEqual({ method: 'HEAD', url: '/v2/library/alpine/manifests/latest', status: 200 });
    // dockerd did send the Docker Hub credentials: they failed, and the anonymous grant was given.
    expect(await passwordFailures()).toBeGreaterThan(failuresBefore);
    expect(fixture.hub.count({ kind: 'manifest', repository: 'library/alpine' })).toBeGreaterThan(0);
  });

  it('docker login fails with a wrong password and succeeds with the right one', async () => {
    const wrong = await dockerd.tryDocker(['login', '-u', 'alice', '-p', 'wrong', mirror.stowage.host]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/unauthorized|authentication required/i);
    const right = await dockerd.docker(['login', '-u', 'alice', '-p', 'alice-pw', mirror.stowage.host]);
    expect(right.stdout).toMatch(/Login Succeeded/);
  });

  it('docker push into a hosted repository with the stored credentials; the pushed manifest reads back', async () => {
    const target = `${mirror.stowage.host}/team/app:1`;
    await dockerd.docker(['tag', 'alpine', target]);
    const push = await dockerd.docker(['push', target]);
    const digest = /1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
    expect(digest, push.stdout).toBeDefined();
    const manifest = await fetch(`${mirror.stowage.url}/v2/team/app/manifests/1`, { headers: { accept: MediaType.DockerManifest, authorization: basic('alice', 'alice-pw') } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(digest);
    // Without credentials the repository is not even admitted to exist.
    expect((await fetch(`${mirror.stowage.url}/v2/team/app/manifests/1`)).status).toBe(401);
  });
});
