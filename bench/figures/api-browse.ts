/** Figure 9: the web UI's JSON API with 1,000 repositories and 10,000 tags in one repository. */
import { createHash, randomBytes } from 'node:crypto';
import type { Bench } from '../context.js';
import { fmt } from '../report.js';
import { startReference, type Server } from '../subjects.js';

const REPOSITORIES = 1_000;
const BIG_TAGS = 10_000;
/** Distinct images the big repository's tags point at. */
const BIG_IMAGES = 100;
const CLIENTS = 4;
const PUSH_CONCURRENCY = 16;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Figure 9: what a person browsing a large registry waits for. Both subjects hold the same hosted
 * content, pushed over HTTP: 1,000 repositories `team/r0000…` (one small image each) and
 * `team/big` with 10,000 tags over 100 images. Stowage answers the UI's API calls (list, sort,
 * search, glob, tag pages by cursor, a manifest, stats); the reference registry (distribution, a
 * plain registry: its proxy mode takes no pushes) answers the nearest calls it has — the catalog
 * page and tags/list, which is what UIs like docker-registry-ui build on. `CLIENTS` clients loop
 * over the calls at once; the first calls after seeding (which build Stowage's views) are
 * reported on their own.
 */
export async function apiFigure(ctx: Bench): Promise<void> {
  const stowage = await ctx.startSubject('stowage');
  const reference = await startReference();
  try {
    for (const server of [stowage, reference]) {
      const started = performance.now();
      await seed(server);
      ctx.log(`api: seeded ${server.name} with ${REPOSITORIES} repositories and ${BIG_TAGS} tags in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const cold = {
      list: await timed(`${stowage.url}/api/v1/repositories?limit=50`),
      tags: await timed(`${stowage.url}/api/v1/repositories/team/big/tags?limit=100`),
    };
    ctx.log(`api: first calls after seeding: repositories ${cold.list.toFixed(0)} ms, 10,000 tags ${cold.tags.toFixed(0)} ms`);
    const deepCursor = await cursorAfter(stowage.url, 40);
    const stowageCalls = [
      '/api/v1/repositories?limit=50',
      '/api/v1/repositories?limit=50&sort=size',
      '/api/v1/repositories?limit=50&sort=pulled',
      '/api/v1/repositories?limit=50&q=r05',
      '/api/v1/repositories?limit=50&q=team/r*9',
      '/api/v1/repositories/team/big/tags?limit=100',
      '/api/v1/repositories/team/big/tags?limit=100&sort=pushed',
      '/api/v1/repositories/team/big/tags?limit=100&sort=size&order=asc',
      '/api/v1/repositories/team/big/tags?limit=100&q=t-9*',
      `/api/v1/repositories/team/big/tags?limit=100&cursor=${deepCursor}`,
      '/api/v1/repositories/team/big/manifests/t-05000',
      '/api/v1/repositories/team/r0500/tags',
      '/api/v1/stats',
    ];
    const referenceCalls = ['/v2/_catalog?n=50', '/v2/team/big/tags/list', '/v2/team/r0500/tags/list'];
    const rounds = ctx.options.wrkSeconds >= 10 ? 25 : 10;
    await measure(stowage.url, stowageCalls, 1); // JIT warm-up, not counted
    await measure(reference.url, referenceCalls, 1);
    const s = await measure(stowage.url, stowageCalls, rounds);
    const r = await measure(reference.url, referenceCalls, rounds);
    ctx.log(`api stowage: ${s.count} calls, p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; slowest call: ${s.slowest}`);
    ctx.log(`api reference (catalog, tags/list): ${r.count} calls, p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`);
    ctx.raw.api = { cold, stowage: s, reference: r, clients: CLIENTS, rounds };
    ctx.rows.push({
      figure: `9a. UI API p95, 1,000 repos + 10,000 tags, ${CLIENTS} clients (ms)`,
      stowage: `${s.p95.toFixed(1)} (p50 ${s.p50.toFixed(1)})`,
      reference: `${r.p95.toFixed(1)} (catalog, tags/list)`,
      ratio: '',
      target: 'p95 ≤ 200 ms',
      pass: s.p95 <= 200 && s.errors === 0,
    });
    ctx.rows.push({
      figure: '9b. UI API first calls after seeding: list / 10,000 tags (ms)',
      stowage: `${fmt.n(cold.list)} / ${fmt.n(cold.tags)}`,
      reference: '',
      ratio: '',
      target: 'info',
      pass: null,
    });
  } finally {
    await Promise.all([stowage.close(), reference.close()]);
  }
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return performance.now() - started;
}

/** The cursor of page `page + 1` of the big repository's tags (a deep page, as after paging on). */
async function cursorAfter(base: string, page: number): Promise<string> {
  let cursor = '';
  for (let i = 0; i < page; i++) {
    const response = await fetch(`${base}/api/v1/repositories/team/big/tags?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    cursor = ((await response.json()) as { nextCursor: string }).nextCursor;
  }
  return cursor;
}

/** `CLIENTS` clients each make every call `rounds` times, in their own order; latencies of all. */
async function measure(base: string, calls: string[], rounds: number) {
  const latencies: Array<{ ms: number; call: string }> = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < calls.length; i++) {
          const call = calls[(i + client * 3 + round) % calls.length]!;
          const started = performance.now();
          const response = await fetch(`${base}${call}`);
          await response.arrayBuffer();
          if (!response.ok) errors++;
          latencies.push({ ms: performance.now() - started, call });
        }
      }
    }),
  );
  const sorted = [...latencies].sort((a, b) => a.ms - b.ms);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!.ms;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1)!.ms, slowest: sorted.at(-1)!.call, errors };
}

// ---- seeding: plain OCI pushes, the same for both registries ----------------------------------

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function pushBlob(base: string, name: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  const started = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  if (started.status !== 202) throw new Error(`POST upload ${name}: ${started.status}`);
  const location = new URL(started.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT blob ${name}: ${put.status}`);
  return { digest, size: bytes.length };
}

async function putManifest(base: string, name: string, reference: string, bytes: Buffer): Promise<void> {
  const response = await fetch(`${base}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: bytes });
  await response.arrayBuffer();
  if (response.status !== 201) throw new Error(`PUT manifest ${name}:${reference}: ${response.status}`);
}

async function pushImage(base: string, name: string, seed: string): Promise<Buffer> {
  const config = await pushBlob(base, name, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: new Date().toISOString(), config: { Env: [`SEED=${seed}`] }, rootfs: { type: 'layers', diff_ids: [] } })));
  const layer = await pushBlob(base, name, randomBytes(1024 + (seed.length % 7) * 100));
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }));
}

async function pool(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: PUSH_CONCURRENCY }, async () => {
    while (next < count) await task(next++);
  }));
}

async function seed(server: Server): Promise<void> {
  const base = server.url;
  await pool(REPOSITORIES, async (i) => {
    const name = `team/r${String(i).padStart(4, '0')}`;
    await putManifest(base, name, 'latest', await pushImage(base, name, name));
  });
  const images: Buffer[] = [];
  await pool(BIG_IMAGES, async (i) => {
    images[i] = await pushImage(base, 'team/big', `big-${i}`);
  });
  await pool(BIG_TAGS, async (i) => putManifest(base, 'team/big', `t-${String(i).padStart(5, '0')}`, images[i % BIG_IMAGES]!));
}
