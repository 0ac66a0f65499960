/** Figure 6: a push with skopeo. */
import { createSkopeo } from '../../test/support/skopeo.js';
import { getStatus } from '../clients.js';
import { MANIFEST_ACCEPT, ordered, type Bench, type Kind } from '../context.js';
import { fmt, median } from '../report.js';
import { startReference, startStowage } from '../subjects.js';

/** Figure 6: skopeo pushes the 300 MB image into a hosted repository (reference: a plain registry). */
export async function pushFigure(ctx: Bench): Promise<void> {
  const { images } = ctx;
  const skopeo = await createSkopeo({ timeoutMs: 300_000 });
  const times: Record<Kind, number[]> = { stowage: [], reference: [] };
  try {
    for (let round = 0; round < ctx.options.rounds.push; round++) {
      for (const kind of ordered(round)) {
        const server = kind === 'stowage' ? await startStowage({ logLevel: ctx.options.logLevel }) : await startReference();
        try {
          const started = performance.now();
          await skopeo.copy(`oci:${images.big.layoutDir}:latest`, `docker://${server.host}/team/big:latest`);
          times[kind].push(performance.now() - started);
          const check = await getStatus(`${server.url}/v2/team/big/manifests/latest`, { accept: MANIFEST_ACCEPT });
          if (check.status !== 200) throw new Error(`${kind}: pushed manifest answered ${check.status}`);
        } finally {
          await server.close();
        }
      }
      ctx.log(`push round ${round + 1}: stowage ${(times.stowage.at(-1)! / 1000).toFixed(2)} s, reference ${(times.reference.at(-1)! / 1000).toFixed(2)} s`);
    }
  } finally {
    await skopeo.close();
  }
  ctx.raw.push = times;
  const s = median(times.stowage);
  const r = median(times.reference);
  ctx.rows.push({
    figure: '6. skopeo push of the 300 MB image (s)',
    stowage: `${(s / 1000).toFixed(2)} (${fmt.n(fmt.mbps(images.big.layerSize, s))} MB/s)`,
    reference: `${(r / 1000).toFixed(2)} (${fmt.n(fmt.mbps(images.big.layerSize, r))} MB/s)`,
    ratio: fmt.ratio(s, r),
    target: 'info (reference: plain registry)',
    pass: null,
  });
}
