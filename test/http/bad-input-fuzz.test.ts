/**
 * Seeded bad input, thousands of requests against a hosted and a proxied repository: malformed
 * names, references, headers, methods, upload sequences and manifests (fuzz/bad-input-families.ts),
 * sent as raw bytes. For every response: a status line, no 5xx, and on every 4xx the OCI body with a
 * specification code. Afterwards: nothing invalid or partial was stored, nothing lies outside the
 * data directory, and the server still serves and takes pushes.
 *
 * Deterministic for a seed (STOWAGE_FUZZ_SEED, default below); a failure names the seed, the case
 * number and the request, so `STOWAGE_FUZZ_SEED=<seed> npx vitest run test/http/bad-input-fuzz.test.ts`
 * replays it.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPEC_CODES } from '../../src/oci/errors.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { isRepositoryName } from '../../src/oci/repository-name.js';
import { Layout } from '../../src/storage/layout.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { socketExchange, type SocketAnswer } from '../support/raw-socket.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import {
  encode,
  headerRequests,
  manifestRequests,
  methodRequests,
  nameRequests,
  Random,
  referenceRequests,
  sha256,
  type FuzzRequest,
  type FuzzTargets,
} from './fuzz/bad-input-families.js';
import { buildImage, RegistryClient } from './registry-client.js';

const SEED = Number(process.env.STOWAGE_FUZZ_SEED ?? 20261207);
const HOSTED = 'fuzz/app';
const PROXIED = 'hub.test/library/alpine';

let parent: string;
let dataDir: string;
let hub: FakeHub;
let stowage: RunningStowage;
let client: RegistryClient;
let targets: FuzzTargets;
const victim = buildImage({ seed: 'fuzz/victim', layers: 2 });
let sent = 0;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'stowage-fuzz-'));
  dataDir = join(parent, 'data');
  await mkdir(dataDir);
  hub = await startFakeHub({ auth: 'none' });
  hub.addImage('library/alpine', 'latest');
  stowage = await startStowage({ dataDir, config: { hosted: ['fuzz/**'], upstreams: { 'hub.test': { url: hub.url, requestDeadline: '5s' } }, defaultUpstream: null } });
  client = new RegistryClient(stowage.url);
  await client.pushImage(HOSTED, 'victim', { seed: 'fuzz/victim', layers: 2 });
  targets = {
    hosted: HOSTED,
    proxied: PROXIED,
    blob: sha256(victim.config),
    manifest: JSON.parse(victim.manifest.toString()) as Record<string, unknown>,
    absent: sha256('fuzz/no such blob'),
  };
}, 30_000);
afterAll(async () => {
  await client.close();
  await stowage.close();
  await hub.close();
  await rm(parent, { recursive: true, force: true });
});

/** What a failure message shows of a request: printable, cut short. */
const preview = (bytes: Buffer): string => JSON.stringify(bytes.subarray(0, 160).toString('latin1'));

/**
 * The only 5xx a bad request may get: 501 for a method nobody knows (RFC 9110 allows it) and 505 for
 * an HTTP version Stowage does not speak — refusals, not failures, and in the OCI format too.
 */
const REFUSALS = new Set([501, 505]);

/** Sends one request and checks the invariants every answer must keep. */
async function send(request: FuzzRequest, label: string): Promise<SocketAnswer> {
  const bytes = encode(request);
  const head = request.method === 'HEAD';
  const answer = await socketExchange(stowage.host, bytes, { head, timeoutMs: 10_000 });
  sent++;
  const where = `seed=${SEED} ${label} (${request.family}): ${preview(bytes)} → ${answer.statusLine || '(nothing)'} ${answer.body.toString().slice(0, 200)}`;
  expect(answer.status, `no status line — ${where}`).not.toBeNull();
  if (!REFUSALS.has(answer.status!)) expect(answer.status!, `a 5xx — ${where}`).toBeLessThan(500);
  if (answer.status! >= 400 && !head) {
    expect(answer.headers['content-type'], `not JSON — ${where}`).toMatch(/^application\/json/);
    const error = (answer.json as { errors?: Array<{ code: unknown; message: unknown }> } | undefined)?.errors?.[0];
    expect(SPEC_CODES, `not a specification code — ${where}`).toContain(error?.code);
    expect(typeof error?.message, `no message — ${where}`).toBe('string');
  }
  if (head) expect(answer.body.length, `a body on HEAD — ${where}`).toBe(0);
  return answer;
}

async function sendAll(family: string, requests: FuzzRequest[]): Promise<void> {
  for (const [i, request] of requests.entries()) await send(request, `${family} #${i}`);
}

/**
 * One random upload session: chunks with right, wrong, malformed or missing Content-Range, PUTs
 * with right, wrong and malformed digests, with and without a last chunk, status, cancel, and
 * requests after the end. Whatever a 201 announces must be served whole under its digest.
 */
async function uploadSequence(r: Random, n: number): Promise<void> {
  const repo = r.chance(0.85) ? HOSTED : PROXIED;
  const start = await send({ family: 'uploads', method: 'POST', path: `/v2/${repo}/blobs/uploads/` }, `uploads #${n} start`);
  const location = start.headers.location ?? `/v2/${repo}/blobs/uploads/${r.pick(['00000000-0000-4000-8000-000000000000', 'x', '..'])}`;
  const written: Buffer[] = [];
  for (let step = 0, steps = 1 + r.int(6); step < steps; step++) {
    const offset = Buffer.concat(written).length;
    const chunk = r.bytes(r.int(2048));
    const label = `uploads #${n} step ${step}`;
    switch (r.int(6)) {
      case 0:
      case 1: {
        const range = r.pick([`${offset}-${offset + chunk.length - 1}`, `${offset + 1}-${offset + chunk.length}`, `0-${chunk.length}`, 'bytes=0-1', 'x-y', '']);
        const withRange = r.chance(0.6);
        const answer = await send({ family: 'uploads', method: 'PATCH', path: location, body: chunk, ...(withRange ? { headers: [['Content-Range', range]] } : {}) }, label);
        if (answer.status === 202) written.push(chunk);
        break;
      }
      case 2: {
        const whole = Buffer.concat([...written, chunk]);
        const digest = r.pick([sha256(whole), sha256(Buffer.concat(written)), sha256('other'), 'sha256:abc', '']);
        const answer = await send({ family: 'uploads', method: 'PUT', path: `${location}?digest=${digest}`, ...(r.chance(0.5) ? { body: chunk } : {}) }, label);
        if (answer.status === 201) await expectServed(repo, answer.headers['docker-content-digest']!, label);
        break;
      }
      case 3:
        await send({ family: 'uploads', method: 'GET', path: location }, label);
        break;
      case 4:
        await send({ family: 'uploads', method: 'DELETE', path: location }, label);
        break;
      default:
        await send({ family: 'uploads', method: r.pick(['POST', 'HEAD', 'OPTIONS']), path: location }, label);
    }
  }
}

/** A blob a 201 announced is served whole, its bytes hashing to its digest. */
async function expectServed(repo: string, digest: string, label: string): Promise<void> {
  const res = await client.fetch(`/v2/${repo}/blobs/${digest}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect({ status: res.status, digest: sha256(bytes) }, `seed=${SEED} ${label}: the committed blob`).toEqual({ status: 200, digest });
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

describe(`seeded bad input (seed ${SEED})`, () => {
  const r = new Random(SEED);

  it('names', () => sendAll('names', nameRequests(r, targets, 800)), 120_000);
  it('references', () => sendAll('references', referenceRequests(r, targets, 800)), 120_000);
  it('headers', () => sendAll('headers', headerRequests(r, targets, 700)), 120_000);
  it('methods', () => sendAll('methods', methodRequests(r, targets, 500)), 120_000);
  it('manifests', () => sendAll('manifests', manifestRequests(r, targets, 600)), 120_000);
  it('upload sequences', async () => {
    for (let n = 0; n < 200; n++) await uploadSequence(r, n);
  }, 120_000);

  it(`sent thousands of requests`, () => {
    expect(sent).toBeGreaterThan(3_000);
  });

  it('stored nothing invalid: every blob hashes to its name, every manifest a push left is valid and complete', async () => {
    const blobs = await walk(join(dataDir, 'blobs'));
    for (const file of blobs) {
      const [algorithm, , hex] = file.split('/').slice(-3) as [string, string, string];
      const digest = `${algorithm}:${createHash(algorithm).update(await readFile(file)).digest('hex')}`;
      expect(digest, `seed=${SEED}: ${file}`).toBe(`${algorithm}:${hex}`);
    }
    expect(await readdir(join(dataDir, 'tmp')).catch(() => [])).toEqual([]);
    const catalog = (await (await client.fetch('/v2/_catalog')).json()) as { repositories: string[] };
    for (const name of catalog.repositories) expect(isRepositoryName(name), name).toBe(true);
    const { tags } = (await (await client.fetch(`/v2/${HOSTED}/tags/list`)).json()) as { tags: string[] };
    expect(tags).toContain('victim');
    for (const tag of tags) {
      const res = await client.fetch(`/v2/${HOSTED}/manifests/${tag}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
      const bytes = Buffer.from(await res.arrayBuffer());
      const manifest = parseManifest(bytes, res.headers.get('content-type') ?? undefined, { strict: true });
      for (const blob of manifest.blobs) expect((await client.fetch(`/v2/${HOSTED}/blobs/${blob.digest}`, { method: 'HEAD' })).status, `${tag}: ${blob.digest}`).toBe(200);
    }
  });

  it('wrote nothing outside the data directory, and only the store layout inside it', async () => {
    expect(await readdir(parent)).toEqual(['data']);
    // The store's own top-level directories, as its layout names them.
    const layout = Object.values(new Layout(dataDir)).filter((path): path is string => typeof path === 'string' && path !== dataDir).map((path) => basename(path));
    for (const entry of await readdir(dataDir)) expect(layout).toContain(entry);
    for (const file of await walk(join(dataDir, 'repositories'))) {
      const rel = file.slice(join(dataDir, 'repositories').length + 1);
      expect(rel, `seed=${SEED}`).toMatch(/^(hosted\/fuzz\/[a-z0-9._/-]+|proxied\/hub\.test\/library\/alpine)\/_[a-z]+\//);
    }
  });

  it('is healthy afterwards: the victim image is intact, pushes and pulls work, probes answer', async () => {
    const manifest = await client.fetch(`/v2/${HOSTED}/manifests/victim`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    expect(Buffer.from(await manifest.arrayBuffer()).equals(victim.manifest)).toBe(true);
    for (const layer of victim.layers) {
      const blob = await client.fetch(`/v2/${HOSTED}/blobs/${sha256(layer)}`);
      expect(Buffer.from(await blob.arrayBuffer()).equals(layer)).toBe(true);
    }
    const fresh = await client.pushImage(HOSTED, 'after-the-storm', { seed: 'fuzz/after' });
    const pulled = await client.fetch(`/v2/${HOSTED}/manifests/after-the-storm`, { headers: { Accept: fresh.mediaType } });
    expect(Buffer.from(await pulled.arrayBuffer()).equals(fresh.manifest)).toBe(true);
    const proxied = await client.fetch(`/v2/${PROXIED}/manifests/latest`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    expect(proxied.status).toBe(200);
    await proxied.arrayBuffer();
    expect((await client.fetch('/healthz')).status).toBe(200);
    expect((await client.fetch('/readyz')).status).toBe(200);
  });
});
