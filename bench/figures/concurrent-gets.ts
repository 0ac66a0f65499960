/** Figure 3 (and 5c): 20 clients, one cold blob. */
import { concurrentHashedGets } from '../clients.js';
import { blobUrl, KINDS, type Bench, type Kind } from '../context.js';
import { fmt } from '../report.js';
import { memoryOf, resetPeakMemory, type Server } from '../subjects.js';

/**
 * Figure 3: 20 clients GET the same 300 MB blob at once, each hashing what it receives. Twice per
 * subject: on a fresh process (3a–3c, and its peak RSS including first-use costs), then — blob
 * deleted, peak reset — on the now warm process (the steady-state peak RSS the target is about).
 */
export async function concurrentFigure(ctx: Bench): Promise<void> {
  const { hub, images } = ctx;
  const size = images.big.layerSize;
  type Run = { multiple: number; wallMs: number; right: number; peak: number; errors: string[] };
  const results = {} as Record<Kind, { fresh: Run; steady: Run }>;
  const measure = async (server: Server): Promise<Run> => {
    const before = await hub.stats();
    const { wallMs, results: transfers } = await concurrentHashedGets(blobUrl(server, images), ctx.options.clients);
    const after = await hub.stats();
    const right = transfers.filter((t) => t.exitCode === 0 && t.status === 200 && t.digest === images.big.layerDigest).length;
    const errors = transfers.filter((t) => t.exitCode !== 0 || t.status !== 200).map((t) => t.error ?? `status ${t.status}`);
    return { multiple: (after.bytes - before.bytes) / size, wallMs, right, peak: memoryOf(server.pid).peak, errors };
  };
  for (const kind of KINDS) {
    const server = await ctx.startSubject(kind);
    try {
      const fresh = await measure(server);
      // The reference stores the blob with a download of its own that may outlast its clients:
      // forgetting the blob before that one finished would let it land again behind our back.
      await hub.quiet();
      await server.forgetBlob(images.big.layerDigest);
      resetPeakMemory(server.pid);
      const steady = await measure(server);
      results[kind] = { fresh, steady };
      for (const [label, run] of [['fresh', fresh], ['warm', steady]] as const) {
        ctx.log(`20 concurrent ${kind} (${label} process): ${(run.wallMs / 1000).toFixed(1)} s, upstream ${run.multiple.toFixed(2)}× blob, ${run.right}/${ctx.options.clients} right, peak RSS ${fmt.mib(run.peak)}${run.errors.length ? `, errors: ${run.errors.slice(0, 3).join('; ')}` : ''}`);
      }
    } finally {
      await server.close();
    }
  }
  ctx.raw.concurrent = results;
  const s = results.stowage;
  const r = results.reference;
  const exactlyOnce = (x: Run): boolean => Math.round(x.multiple * 100) === 100;
  ctx.rows.push({
    figure: '3a. 20 concurrent cold GETs: upstream bytes',
    stowage: `${s.fresh.multiple.toFixed(2)}× blob (again: ${s.steady.multiple.toFixed(2)}×)`,
    reference: `${r.fresh.multiple.toFixed(2)}× blob (again: ${r.steady.multiple.toFixed(2)}×)`,
    ratio: fmt.ratio(s.fresh.multiple, r.fresh.multiple),
    target: 'exactly 1× blob size',
    pass: exactlyOnce(s.fresh) && exactlyOnce(s.steady),
  });
  ctx.rows.push({
    figure: '3b. 20 concurrent cold GETs: wall time (s)',
    stowage: `${(s.fresh.wallMs / 1000).toFixed(1)} (again: ${(s.steady.wallMs / 1000).toFixed(1)})`,
    reference: `${(r.fresh.wallMs / 1000).toFixed(1)} (again: ${(r.steady.wallMs / 1000).toFixed(1)})`,
    ratio: fmt.ratio(s.fresh.wallMs, r.fresh.wallMs),
    target: 'info',
    pass: null,
  });
  ctx.rows.push({
    figure: '3c. clients that got the right sha256',
    stowage: `${s.fresh.right + s.steady.right}/${2 * ctx.options.clients}`,
    reference: `${r.fresh.right + r.steady.right}/${2 * ctx.options.clients}`,
    ratio: '',
    target: 'all',
    pass: s.fresh.right + s.steady.right === 2 * ctx.options.clients,
  });
  ctx.rows.push({
    figure: '5c. peak RSS, 20 clients streaming 300 MB',
    stowage: `${fmt.mib(s.steady.peak)} (fresh process: ${fmt.mib(s.fresh.peak)})`,
    reference: `${fmt.mib(r.steady.peak)} (fresh process: ${fmt.mib(r.fresh.peak)})`,
    ratio: fmt.ratio(s.steady.peak, r.steady.peak),
    target: '< 150 MiB (warm process)',
    pass: s.steady.peak < 150 * 1048576,
  });
}
