import type { Digest } from '../oci/digest.js';

export type ImageState = 'pending' | 'fetching' | 'done' | 'failed' | 'skipped';

/** One image (one tag or digest of a target) in a prefetch run, as the API and the CLI show it. */
export interface ImageProgress {
  /** `docker.io/library/alpine:3.20`, `ghcr.io/org/app@sha256:…`, or a target still being expanded. */
  ref: string;
  state: ImageState;
  /** The manifest the reference resolved to. */
  digest: Digest | null;
  /** Blob bytes of the chosen platforms, known once the manifests are in. */
  bytesTotal: number;
  /** Of those, bytes stored: already cached, or downloaded by this run. */
  bytesDone: number;
  blobsTotal: number;
  blobsDone: number;
  pinned: boolean;
  /** Why it failed or was skipped. */
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface PrefetchRun {
  id: string;
  trigger: 'start' | 'schedule' | 'api' | 'tag moved';
  /** The refs asked for; null: every configured image. */
  refs: string[] | null;
  startedAt: number;
  finishedAt: number | null;
  images: ImageProgress[];
}

export function newImage(ref: string, pinned: boolean): ImageProgress {
  return { ref, state: 'pending', digest: null, bytesTotal: 0, bytesDone: 0, blobsTotal: 0, blobsDone: 0, pinned, error: null, startedAt: null, finishedAt: null };
}

/** A run succeeded when every image was fetched. */
export const runSucceeded = (run: PrefetchRun): boolean => run.images.every((i) => i.state === 'done');

/** Stops a run politely: an upstream's pull budget is down to the reserve. */
export class PullBudgetLow extends Error {
  constructor(readonly upstream: string, readonly left: number) {
    super(`${upstream} has ${left} pulls left in its rate-limit window: kept for clients (prefetch.pullReserve)`);
  }
}
