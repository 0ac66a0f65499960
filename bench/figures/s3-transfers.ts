/**
 * Figure 10: the s3 driver on a real Ceph RGW started for the run (test/support/ceph-rgw.ts), next
 * to the fs driver and the reference registry in the same run: the 300 MB blob filled cold into
 * the bucket vs into a data directory, and fetched warm through Stowage (proxied), through its 307
 * to a presigned URL (`storage.s3.redirect`), and straight from the store (the same presigned URL
 * with curl: the ceiling).
 */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startCephRgw } from '../../test/support/ceph-rgw.js';
import { tempDir } from '../../test/support/processes.js';
import { createTestBucket } from '../../test/support/s3-test-bucket.js';
import { curlGet, type Transfer } from '../clients.js';
import { blobUrl, checkTransfer, type Bench } from '../context.js';
import { fmt, median } from '../report.js';
import { cpuOf, startStowage, type Server } from '../subjects.js';

const PREFIX = 'stowage/';

export async function s3Figure(ctx: Bench, reference: Server): Promise<void> {
  const { images } = ctx;
  const size = images.big.layerSize;
  const digest = images.big.layerDigest;
  const hex = digest.slice('sha256:'.length);
  const key = `${PREFIX}blobs/sha256/${hex.slice(0, 2)}/${hex}`;
  ctx.log('figure 10: starting Ceph RGW (memstore)');
  const rgw = await startCephRgw({ memoryBytes: 3 * 1024 ** 3 });
  const bucket = await createTestBucket(rgw, 'stowage-bench', { prefix: PREFIX });
  const servers: Server[] = [];
  try {
    // The first PutObject of a fresh cluster creates its pools (~2 s): not part of any figure.
    const scratch = await tempDir('bench-s3');
    const file = join(scratch.path, 'blob');
    await writeFile(file, Buffer.alloc(size, 1));
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'warm-up', Body: Buffer.from('x') }));
    // The store's own write speed for a blob this size (one PutObject from a file): what a fill into it waits for.
    const putMs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'put-speed', Body: createReadStream(file), ContentLength: size }));
      putMs.push(performance.now() - t0);
    }
    await scratch.remove();

    const s3 = { driver: 's3', s3: bucket.settings };
    const proxied = await startStowage({ upstreamUrl: ctx.hub.url, logLevel: ctx.options.logLevel, storage: s3 });
    servers.push(proxied);
    const redirecting = await startStowage({ upstreamUrl: ctx.hub.url, logLevel: ctx.options.logLevel, storage: { ...s3, s3: { ...bucket.settings, redirect: true } } });
    servers.push(redirecting);
    const fs = await startStowage({ upstreamUrl: ctx.hub.url, logLevel: ctx.options.logLevel });
    servers.push(fs);
    const forget = async (server: Server): Promise<void> => {
      if (server === fs) await server.forgetBlob(digest);
      else await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key }));
    };

    // Cold: fills into the bucket and into a data directory, alternating (one warm-up each, not counted).
    const cold = { s3: [] as Transfer[], fs: [] as Transfer[] };
    const coldCpu = { s3: [] as number[], fs: [] as number[] };
    for (const server of [proxied, fs]) checkTransfer('s3 figure warm-up', await curlGet(blobUrl(server, images)), size);
    for (let round = 0; round < ctx.options.rounds.cold; round++) {
      for (const [name, server] of round % 2 === 0 ? ([['s3', proxied], ['fs', fs]] as const) : ([['fs', fs], ['s3', proxied]] as const)) {
        await forget(server);
        const cpuBefore = cpuOf(server.pid);
        cold[name].push(checkTransfer(`${name} cold`, await curlGet(blobUrl(server, images)), size));
        await new Promise((r) => setTimeout(r, 200));
        coldCpu[name].push(cpuOf(server.pid) - cpuBefore);
      }
    }

    // Warm: proxied, redirected, the store itself, and the reference, round by round, alternating who goes first.
    const presigned = await getSignedUrl(bucket.client, new GetObjectCommand({ Bucket: bucket.name, Key: key }), { expiresIn: 3600 });
    const warm = { proxied: [] as number[], redirect: [] as number[], store: [] as number[], reference: [] as number[] };
    const warmCpu = { proxied: [] as number[], reference: [] as number[] };
    const fetchers: Record<keyof typeof warm, () => Promise<Transfer>> = {
      proxied: () => curlGet(blobUrl(proxied, images)),
      redirect: () => curlGet(blobUrl(redirecting, images), { follow: true }),
      store: () => curlGet(presigned),
      reference: () => curlGet(blobUrl(reference, images)),
    };
    const pids: Partial<Record<keyof typeof warm, number>> = { proxied: proxied.pid, reference: reference.pid };
    for (const fetch of Object.values(fetchers)) checkTransfer('warm-up', await fetch(), size);
    const order = Object.keys(fetchers) as Array<keyof typeof warm>;
    for (let round = 0; round < ctx.options.rounds.warm + 2; round++) {
      for (const name of round % 2 === 0 ? order : [...order].reverse()) {
        const pid = pids[name];
        const cpuBefore = pid === undefined ? 0 : cpuOf(pid);
        const t = checkTransfer(`warm ${name}`, await fetchers[name](), size);
        if (pid !== undefined) warmCpu[name as 'proxied' | 'reference'].push(cpuOf(pid) - cpuBefore);
        warm[name].push(fmt.mbps(size, t.totalMs));
      }
    }

    const mbps = (ts: Transfer[]): number => median(ts.map((t) => fmt.mbps(size, t.totalMs)));
    const [coldS3, coldFs] = [mbps(cold.s3), mbps(cold.fs)];
    const w = Object.fromEntries(Object.entries(warm).map(([k, v]) => [k, median(v)])) as Record<keyof typeof warm, number>;
    const put = fmt.mbps(size, median(putMs));
    ctx.raw.s3 = { cold, coldCpu, warm, warmCpu, putMs };
    ctx.log(`s3: cold ${fmt.n(coldS3)} MB/s (fs ${fmt.n(coldFs)}), store PUT ${fmt.n(put)} MB/s; warm proxied ${warm.proxied.map((v) => fmt.n(v)).join(', ')}; redirect ${warm.redirect.map((v) => fmt.n(v)).join(', ')}; store ${warm.store.map((v) => fmt.n(v)).join(', ')} MB/s`);
    ctx.rows.push({
      figure: '10a. warm 300 MB GET via the 307 to the store (MB/s, median)',
      stowage: `${fmt.n(w.redirect)} (${fmt.n((100 * w.redirect) / w.store)}% of the store)`,
      reference: '',
      ratio: fmt.ratio(w.redirect, w.store),
      target: `≥ 0.9× the store's own GET of the presigned URL (${fmt.n(w.store)} MB/s)`,
      pass: w.redirect >= 0.9 * w.store,
    });
    ctx.rows.push({
      figure: '10b. warm 300 MB GET proxied through Stowage from S3 (MB/s, median)',
      stowage: `${fmt.n(w.proxied)} (${fmt.n((100 * w.proxied) / w.store)}% of the store)`,
      reference: `${fmt.n(w.reference)} (its filesystem)`,
      ratio: fmt.ratio(w.proxied, w.store),
      target: 'info: ratio to the store\'s own GET',
      pass: null,
    });
    ctx.rows.push({
      figure: '10c. server CPU per warm 300 MB GET, Stowage proxying S3 vs the reference (ms, median)',
      stowage: fmt.n(median(warmCpu.proxied)),
      reference: fmt.n(median(warmCpu.reference)),
      ratio: fmt.ratio(median(warmCpu.proxied), median(warmCpu.reference)),
      target: '≤ reference',
      pass: median(warmCpu.proxied) <= median(warmCpu.reference),
    });
    ctx.rows.push({
      figure: '10d. cold 300 MB fill into S3 vs into the filesystem (MB/s, median)',
      stowage: `${fmt.n(coldS3)} s3, ${fmt.n(coldFs)} fs; ${fmt.n(median(coldCpu.s3))} vs ${fmt.n(median(coldCpu.fs))} ms CPU`,
      reference: '',
      ratio: fmt.ratio(coldS3, coldFs),
      target: `info: the store takes one 300 MB PutObject at ${fmt.n(put)} MB/s`,
      pass: null,
    });
  } finally {
    for (const server of servers) await server.close().catch(() => {});
    await bucket.remove().catch(() => {});
    await rgw.stop();
  }
}
