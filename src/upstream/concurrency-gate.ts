import pLimit, { type LimitFunction } from 'p-limit';

/**
 * The per-upstream cap on requests in flight (`UpstreamSettings.concurrency`).
 *
 * A slot covers one HTTP exchange *up to its response headers* — not the body. Holding a slot while
 * a 1 GB layer streams (which can take minutes, at the pace of the slowest client reading the fill)
 * would let a handful of large pulls starve the small, latency-critical requests: tag revalidation
 * HEADs, manifests, token fetches. The cap's job is to bound bursts of new requests against the
 * upstream (and its rate limits), which the headers phase covers. The number of concurrent blob
 * *bodies* is bounded elsewhere: the registry layer downloads each blob once (single-flight fills).
 * Retry backoff sleeps happen outside a slot as well.
 */
export class ConcurrencyGate {
  private readonly limit: LimitFunction;

  constructor(concurrency: number) {
    this.limit = pLimit(Math.max(1, Math.floor(concurrency)));
  }

  get active(): number {
    return this.limit.activeCount;
  }

  get pending(): number {
    return this.limit.pendingCount;
  }

  /**
   * Runs `task` in a slot. An abort while queued rejects at once and `task` never runs. If the abort
   * wins a race against a task that still produced a result, `discard` receives that result so the
   * owner can release it (for a response: dump its body).
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal, discard?: (late: T) => void): Promise<T> {
    if (!signal) return this.limit(task);
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.limit(async () => {
        if (settled) return;
        try {
          const result = await task();
          if (settled) discard?.(result);
          else resolve(result);
        } catch (error) {
          if (!settled) reject(error);
        } finally {
          settled = true;
          signal.removeEventListener('abort', onAbort);
        }
      }).catch(() => {});
    });
  }
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
