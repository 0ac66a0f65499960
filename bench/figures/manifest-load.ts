/** Figure 4 (and 5d): manifest GET by tag under load. */
import { getStatus, wrk } from '../clients.js';
import { KINDS, MANIFEST_ACCEPT, type Bench, type Kind } from '../context.js';
import { fmt } from '../report.js';
import { memoryOf, resetPeakMemory, type Hub, type Server } from '../subjects.js';

/**
 * Figure 4: manifest by tag under load, within the tag TTL, on fresh subjects (so their memory is
 * not what earlier streaming left behind); upstream requests counted at the hub.
 */
export async function manifestFigure(ctx: Bench): Promise<void> {
  const warm = { stowage: await ctx.startSubject('stowage'), reference: await ctx.startSubject('reference') };
  try {
    await manifestLoad(ctx, warm);
  } finally {
    await Promise.all(Object.values(warm).map((s) => s.close()));
  }
}

async function manifestLoad(ctx: Bench, warm: Record<Kind, Server>): Promise<void> {
  const { hub, images } = ctx;
  const path = `/v2/${images.small.repository}/manifests/${images.small.tag}`;
  const headers = { accept: MANIFEST_ACCEPT };
  for (const kind of KINDS) {
    const answer = await getStatus(`${warm[kind].url}${path}`, headers);
    if (answer.status !== 200) throw new Error(`${kind}: manifest GET answered ${answer.status}`);
  }
  // JIT warm-up of both servers (the reference's also reach the upstream); not counted.
  for (const kind of KINDS) await wrk(`${warm[kind].url}${path}`, { connections: 50, seconds: 2, headers });
  await quiesce(hub);
  const results = {} as Record<Kind, Awaited<ReturnType<typeof wrk>> & { upstreamRequests: number; peak: number }>;
  for (const kind of KINDS) {
    const atStart = memoryOf(warm[kind].pid);
    resetPeakMemory(warm[kind].pid);
    const before = await hub.stats();
    const load = await wrk(`${warm[kind].url}${path}`, { connections: 50, seconds: ctx.options.wrkSeconds, headers });
    const after = await hub.stats();
    const total = (s: typeof before): number => Object.values(s.requests).reduce((a, b) => a + b, 0);
    results[kind] = { ...load, upstreamRequests: total(after) - total(before), peak: memoryOf(warm[kind].pid).peak };
    await quiesce(hub); // requests still in flight when wrk stops must not land in the next run's count
    ctx.log(`manifests ${kind}: ${fmt.n(load.requestsPerSecond)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, errors ${load.errors}, upstream requests ${results[kind].upstreamRequests}, RSS ${fmt.mib(atStart.current)} before → peak ${fmt.mib(results[kind].peak)}`);
  }
  ctx.raw.manifests = results;
  const s = results.stowage;
  const r = results.reference;
  ctx.rows.push({
    figure: '4a. manifest GET by tag, 50 conns (req/s)',
    stowage: fmt.n(s.requestsPerSecond),
    reference: fmt.n(r.requestsPerSecond),
    ratio: fmt.ratio(s.requestsPerSecond, r.requestsPerSecond),
    target: '≥ 2× reference',
    pass: s.requestsPerSecond >= 2 * r.requestsPerSecond && s.errors === 0,
  });
  ctx.rows.push({
    figure: '4b. manifest latency p50 / p99 (ms)',
    stowage: `${s.p50Ms} / ${s.p99Ms}`,
    reference: `${r.p50Ms} / ${r.p99Ms}`,
    ratio: fmt.ratio(s.p99Ms, r.p99Ms),
    target: 'p99 < 10 ms',
    pass: s.p99Ms < 10,
  });
  ctx.rows.push({
    figure: '4c. upstream requests during the load run',
    stowage: fmt.n(s.upstreamRequests),
    reference: fmt.n(r.upstreamRequests),
    ratio: '',
    target: '0 within the tag TTL',
    pass: s.upstreamRequests === 0,
  });
  ctx.rows.push({
    figure: '5d. peak RSS, manifest load',
    stowage: fmt.mib(s.peak),
    reference: fmt.mib(r.peak),
    ratio: fmt.ratio(s.peak, r.peak),
    target: 'info',
    pass: null,
  });
}

/** Waits until the hub has seen no new request for 300 ms (at most 10 s). */
async function quiesce(hub: Hub): Promise<void> {
  const count = async (): Promise<number> => Object.values((await hub.stats()).requests).reduce((a, b) => a + b, 0);
  let last = await count();
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await count();
    if (now === last) return;
    last = now;
  }
}
