/** Figure 7: startup with a large cache on disk. */
import { join } from 'node:path';
import { makeFixture, writeReferenceCache, writeStowageCache } from '../cache-fixture.js';
import { getStatus } from '../clients.js';
import { ordered, type Bench, type Kind } from '../context.js';
import { fmt, median } from '../report.js';
import { startReference, startStowage } from '../subjects.js';

/**
 * Figure 7: spawn until `/v2/` answers 200, with `--blobs` blobs on disk (and empty, for scale).
 * For Stowage also until its eviction index has been rebuilt from disk (it happens in the background
 * after listening): polled from /metrics, `stowage_cache_objects` reaching the blob count.
 */
export async function startupFigure(ctx: Bench, workDir: string): Promise<void> {
  const { hub } = ctx;
  ctx.log(`writing ${fmt.n(ctx.options.cachedBlobs)} cached blobs into each server's layout under ${workDir}`);
  const fixture = makeFixture(ctx.options.cachedBlobs);
  const dirs = { stowage: join(workDir, 'startup-stowage'), reference: join(workDir, 'startup-reference') };
  const empty = { stowage: join(workDir, 'startup-stowage-empty'), reference: join(workDir, 'startup-reference-empty') };
  await writeStowageCache(dirs.stowage, fixture);
  await writeReferenceCache(dirs.reference, fixture);
  ctx.log('cache written; timing startups');
  const time = async (kind: Kind, dataDir: string, objects: number): Promise<{ ready: number; indexed: number | null }> => {
    let spawned = 0;
    const onSpawn = (): void => {
      spawned = performance.now();
    };
    const server = kind === 'stowage'
      ? await startStowage({ upstreamUrl: hub.url, dataDir, onSpawn, readyPollMs: 5, logLevel: ctx.options.logLevel })
      : await startReference({ remoteUrl: hub.url, dataDir, onSpawn, readyPollMs: 5 });
    const ready = performance.now() - spawned;
    let indexed: number | null = null;
    if (kind === 'stowage') {
      const deadline = performance.now() + 60_000;
      while (performance.now() < deadline) {
        const metrics = await getStatus(`${server.url}/metrics`);
        const value = /^stowage_cache_objects (\d+)/m.exec(metrics.body.toString('utf8'));
        if (!value) break; // metrics off or renamed: no figure
        if (Number(value[1]) >= objects) {
          indexed = performance.now() - spawned;
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await server.close();
    return { ready, indexed };
  };
  const full: Record<Kind, Array<{ ready: number; indexed: number | null }>> = { stowage: [], reference: [] };
  const none: Record<Kind, Array<{ ready: number; indexed: number | null }>> = { stowage: [], reference: [] };
  for (let round = 0; round < ctx.options.rounds.startup; round++) {
    for (const kind of ordered(round)) {
      full[kind].push(await time(kind, dirs[kind], ctx.options.cachedBlobs));
      none[kind].push(await time(kind, empty[kind], 0));
    }
  }
  const ready = (runs: Array<{ ready: number }>): number => median(runs.map((r) => r.ready));
  const indexedRuns = full.stowage.map((r) => r.indexed).filter((v): v is number => v !== null);
  const indexed = indexedRuns.length === full.stowage.length ? median(indexedRuns) : null;
  ctx.log(`startup: stowage ${full.stowage.map((v) => `${v.ready.toFixed(0)}/${v.indexed?.toFixed(0) ?? '?'}`).join(', ')} ms (ready/indexed; empty ${none.stowage.map((v) => v.ready.toFixed(0)).join(', ')}); reference ${full.reference.map((v) => v.ready.toFixed(0)).join(', ')} ms (empty ${none.reference.map((v) => v.ready.toFixed(0)).join(', ')})`);
  ctx.raw.startup = { full, none, dir: workDir };
  const s = ready(full.stowage);
  const r = ready(full.reference);
  ctx.rows.push({
    figure: `7a. startup with ${fmt.n(ctx.options.cachedBlobs)} cached blobs: /v2/ answers (ms)`,
    stowage: `${fmt.n(s)} (empty: ${fmt.n(ready(none.stowage))})`,
    reference: `${fmt.n(r)} (empty: ${fmt.n(ready(none.reference))})`,
    ratio: fmt.ratio(s, r),
    target: '< 2 s',
    pass: s < 2000,
  });
  ctx.rows.push({
    figure: '7b. … until the eviction index is rebuilt (ms)',
    stowage: indexed === null ? 'n/a' : fmt.n(indexed),
    reference: 'no index',
    ratio: '',
    target: 'info',
    pass: null,
  });
}
