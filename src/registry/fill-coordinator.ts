import type { Digest } from '../oci/digest.js';
import type { RangeRequest, StreamedBlob } from './repository.js';

/** A blob (or a range of it) on its way from the replica that downloads it. */
export type PeerBlob = Pick<StreamedBlob, 'size' | 'range' | 'reader'>;

/** Who downloads a blob that nobody in this process is downloading yet. */
export type FillPlan =
  | {
      where: 'here';
      /** The fill started here; `done` settles when it committed or failed (a claim is held until then). */
      started(done: Promise<unknown>): void;
    }
  | {
      where: 'peer';
      /** The replica that owns the download now. */
      owner: string;
      /**
       * The blob from that replica as it downloads; null when it does not have it (any more): it
       * finished (the blob is stored now), failed, or is gone (its claim expires soon).
       */
      open(range: RangeRequest | null): Promise<PeerBlob | null>;
    };

/**
 * Decides where a missing blob is downloaded, so that replicas sharing a store download each blob
 * once between them (cluster/cluster-fills.ts, with Redis); one process alone always downloads it
 * itself (LOCAL_FILLS). Never throws for want of coordination: without it, the plan is 'here'.
 */
export interface FillCoordinator {
  plan(digest: Digest): Promise<FillPlan>;
}

const HERE: FillPlan = { where: 'here', started: () => {} };

/** One process: every fill is its own. */
export const LOCAL_FILLS: FillCoordinator = { plan: async () => HERE };

/** The plan when coordination is unavailable or not wanted: download here, claim nothing. */
export const fillHere = (): FillPlan => HERE;
