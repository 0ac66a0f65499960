/** Figure 12: online garbage collection over 100,000 blobs and 10,000 manifests, while clients pull. */
import { join } from 'node:path';
import { getStatus, loadUntil } from '../clients.js';
import { MANIFEST_ACCEPT, type Bench } from '../context.js';
import { makeGcFixture, writeReferenceGcStore, writeStowageGcStore } from '../gc-fixture.js';
import { fmt } from '../report.js';
import { cpuOf, startStowage } from '../subjects.js';
import { run } from '../../test/support/processes.js';
import { writeFile } from 'node:fs/promises';

const REPOSITORIES = 100;
const MANIFESTS_PER_REPOSITORY = 100;
const LAYERS = 9;
const CONNECTIONS = 16;
const BASELINE_SECONDS = 8;

/**
 * Figure 12: 100 hosted repositories of 100 images (a config and 9 layers each: 100,000 blobs, 10,000
 * manifests), half of them untagged, written into each server's layout on tmpfs. Stowage runs a GC
 * with a retention rule deleting untagged manifests (5,000 manifests and their 50,000 blobs go)
 * while 16 clients GET tagged manifests; their latency is compared with the same load without GC,
 * measured after a dry run (which also times the mark phase alone).
 * The reference registry has only an offline collector (`registry garbage-collect
 * --delete-untagged`, the registry stopped or read-only): its run time on the same store is shown
 * beside, with no pulls possible while it runs.
 */
export async function gcFigure(ctx: Bench, workDir: string): Promise<void> {
  const fixture = makeGcFixture({ repositories: REPOSITORIES, manifestsPerRepository: MANIFESTS_PER_REPOSITORY, layers: LAYERS });
  const dirs = { stowage: join(workDir, 'gc-stowage'), reference: join(workDir, 'gc-reference') };
  const writing = performance.now();
  await writeStowageGcStore(dirs.stowage, fixture);
  await writeReferenceGcStore(dirs.reference, fixture);
  ctx.log(`gc: wrote ${fmt.n(fixture.blobCount)} blobs and ${fmt.n(fixture.manifestCount)} manifests into each layout in ${((performance.now() - writing) / 1000).toFixed(1)} s`);

  const stowage = await startStowage({
    dataDir: dirs.stowage,
    logLevel: ctx.options.logLevel,
    config: { retention: [{ repos: ['team/**'], deleteUntagged: true }] },
  });
  let report: any;
  let dry: any;
  let markCpuMs = 0;
  let gcCpuMs = 0;
  let baseline;
  let during;
  try {
    const tagged = fixture.images.filter((i) => i.tag !== null);
    const manifestUrl = `${stowage.url}/v2/${tagged[0]!.repository}/manifests/${tagged[0]!.tag}`;
    const headers = { accept: MANIFEST_ACCEPT };
    const first = await getStatus(manifestUrl, headers);
    if (first.status !== 200) throw new Error(`manifest GET answered ${first.status}`);
    await loadUntil(manifestUrl, { connections: CONNECTIONS, headers, until: sleep(2_000) }); // JIT warm-up, not counted
    // A dry run first: it waits for the start-up work (the eviction index rebuilt from 100,000 blobs,
    // the repository views) that would otherwise land in the baseline. A second one times the mark
    // alone, wall and CPU.
    await runGc(stowage.url, true);
    let cpu = cpuOf(stowage.pid);
    dry = await runGc(stowage.url, true);
    markCpuMs = cpuOf(stowage.pid) - cpu;
    cpu = cpuOf(stowage.pid);
    baseline = await loadUntil(manifestUrl, { connections: CONNECTIONS, headers, until: sleep(BASELINE_SECONDS * 1000) });
    const servingCpuPerSecond = (cpuOf(stowage.pid) - cpu) / BASELINE_SECONDS;
    cpu = cpuOf(stowage.pid);
    const gc = runGc(stowage.url, false);
    during = await loadUntil(manifestUrl, { connections: CONNECTIONS, headers, until: gc });
    report = await gc;
    // The run's own CPU: the process's during the run, less what serving the pulls took per second
    // in the baseline (an estimate: the pulls served during the run were fewer).
    gcCpuMs = Math.max(0, cpuOf(stowage.pid) - cpu - servingCpuPerSecond * (report.durationMs / 1000));
    ctx.log(`gc stowage: dry run ${dry.durationMs} ms (${markCpuMs} ms CPU); run ${report.durationMs} ms (≈ ${gcCpuMs.toFixed(0)} ms CPU of its own), removed ${fmt.n(report.manifestsRemoved)} manifests, ${fmt.n(report.blobsRemoved)} blobs (${fmt.mib(report.bytesReclaimed)}), ${fmt.n(report.linksRemoved)} links; manifest p50/p99 ${baseline.p50Ms}/${baseline.p99Ms} ms without, ${during.p50Ms}/${during.p99Ms} ms during (${fmt.n(during.requests)} requests, ${during.errors} errors)`);
    // What stays still pulls; what went is gone.
    const kept = await getStatus(`${stowage.url}/v2/${tagged.at(-1)!.repository}/blobs/sha256:${tagged.at(-1)!.blobs[3]!.hex}`);
    const untagged = fixture.images.find((i) => i.tag === null)!;
    const gone = await getStatus(`${stowage.url}/v2/${untagged.repository}/blobs/sha256:${untagged.blobs[3]!.hex}`);
    if (kept.status !== 200 || gone.status !== 404) throw new Error(`after GC: a kept blob answered ${kept.status}, a collected one ${gone.status}`);
  } finally {
    await stowage.close();
  }

  const config = join(workDir, 'gc-reference.yml');
  await writeFile(config, JSON.stringify({ version: 0.1, storage: { filesystem: { rootdirectory: dirs.reference }, delete: { enabled: true } }, http: { addr: '127.0.0.1:0' } }));
  const started = performance.now();
  const collected = await run('docker-registry', ['garbage-collect', '--delete-untagged', config], { timeoutMs: 600_000 });
  const referenceMs = performance.now() - started;
  if (collected.code !== 0) throw new Error(`registry garbage-collect exited with ${collected.code}: ${collected.stderr.slice(-500)}`);
  ctx.log(`gc reference (offline): ${referenceMs.toFixed(0)} ms`);

  // The lists of what went (55,000 entries) stay out of the raw results: the counts are the figure.
  const { removed: _removed, ...counts } = report;
  ctx.raw.gc = { fixture: { blobs: fixture.blobCount, manifests: fixture.manifestCount }, report: counts, dryRunMs: dry.durationMs, markCpuMs, gcCpuMs, baseline, during, referenceMs };
  ctx.rows.push({
    figure: `12a. GC of ${fmt.n(fixture.blobCount)} blobs / ${fmt.n(fixture.manifestCount)} manifests (half untagged): duration (s)`,
    stowage: `${(report.durationMs / 1000).toFixed(1)} online (CPU ≈ ${(gcCpuMs / 1000).toFixed(1)}; mark alone ${(dry.durationMs / 1000).toFixed(1)}, CPU ${(markCpuMs / 1000).toFixed(1)})`,
    reference: `${(referenceMs / 1000).toFixed(1)} offline`,
    ratio: fmt.ratio(report.durationMs, referenceMs),
    target: '≤ 10 s',
    pass: report.durationMs <= 10_000 && report.manifestsRemoved === fixture.manifestCount / 2,
  });
  ctx.rows.push({
    figure: `12b. manifest p99 with ${CONNECTIONS} clients, during GC vs without (ms)`,
    stowage: `${during.p99Ms} vs ${baseline.p99Ms}`,
    reference: 'no pulls during GC',
    ratio: fmt.ratio(during.p99Ms, baseline.p99Ms),
    target: 'p99 ≤ 2× without',
    pass: during.p99Ms <= 2 * baseline.p99Ms && during.errors === 0,
  });
}

async function runGc(url: string, dryRun: boolean): Promise<any> {
  const res = await fetch(`${url}/api/v1/gc${dryRun ? '?dryRun=true' : ''}`, { method: 'POST', headers: { 'X-Stowage-CSRF': '1' } });
  if (res.status !== 200) throw new Error(`POST /api/v1/gc answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
