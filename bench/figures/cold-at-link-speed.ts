/** Figure 2f: cold blob GETs when the upstream is as fast as a real uplink, not a process on the same cores. */
import { curlGet, directBlobGet, getJson, type Transfer } from '../clients.js';
import { blobUrl, checkTransfer, ordered, type Bench, type Kind } from '../context.js';
import { fmt, median } from '../report.js';
import type { Server } from '../subjects.js';

/** 1 Gbit/s: the uplink most caches sit behind, and the rate Docker Hub's CDN serves one stream at or above. */
export const LINK_BYTES_PER_SECOND = 125_000_000;

/**
 * The hub paces blob bodies to LINK_BYTES_PER_SECOND, and each round fetches the blob directly and
 * cold through each subject (deleted from its storage first, as in figure 2). The unpaced figure 2a
 * measures how the proxy and the upstream share 2 cores; this one measures what the proxy costs a
 * client when the upstream link is the limit, as it is in production.
 */
export async function linkSpeedFigure(ctx: Bench, servers: Record<Kind, Server>): Promise<void> {
  const { hub, images } = ctx;
  const size = images.big.layerSize;
  const digest = images.big.layerDigest;
  const { token } = await getJson<{ token: string }>(`${hub.url}/token?service=fake-hub&scope=repository:${images.big.repository}:pull`);
  const direct: Transfer[] = [];
  const cold: Record<Kind, Transfer[]> = { stowage: [], reference: [] };
  await hub.setBandwidth(LINK_BYTES_PER_SECOND);
  try {
    for (let round = 0; round < ctx.options.rounds.link; round++) {
      direct.push(checkTransfer('direct at link speed', await directBlobGet(hub.url, images.big.repository, digest, token), size));
      for (const kind of ordered(round)) {
        await servers[kind].forgetBlob(digest);
        cold[kind].push(checkTransfer(`${kind} cold at link speed`, await curlGet(blobUrl(servers[kind], images)), size));
        await hub.quiet(); // the reference's own store download must not share the next transfer's link
      }
      const last = (ts: Transfer[]): string => fmt.n(fmt.mbps(size, ts.at(-1)!.totalMs));
      ctx.log(`link-speed round ${round + 1}: direct ${last(direct)} MB/s, stowage ${last(cold.stowage)} MB/s, reference ${last(cold.reference)} MB/s`);
    }
  } finally {
    await hub.setBandwidth(0);
  }
  const mbps = (ts: Transfer[]): number => median(ts.map((t) => fmt.mbps(size, t.totalMs)));
  const d = mbps(direct);
  const s = mbps(cold.stowage);
  const r = mbps(cold.reference);
  ctx.raw.linkSpeed = { bytesPerSecond: LINK_BYTES_PER_SECOND, direct, cold };
  ctx.rows.push({
    figure: '2f. cold blob GET, upstream at 1 Gbit/s (MB/s, median)',
    stowage: `${fmt.n(s)} (${fmt.n((100 * s) / d)}% of direct)`,
    reference: `${fmt.n(r)} (${fmt.n((100 * r) / d)}% of direct)`,
    ratio: fmt.ratio(s, r),
    target: `≥ 90% of direct upstream fetch (${fmt.n(d)} MB/s)`,
    pass: s >= 0.9 * d,
  });
}
