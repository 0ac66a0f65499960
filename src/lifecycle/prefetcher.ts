import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { summarizeManifest } from '../oci/manifest-summary.js';
import type { Reference } from '../oci/reference.js';
import type { Registry } from '../registry/registry.js';
import type { Repository } from '../registry/repository.js';
import type { LifecycleObserver } from './lifecycle-observer.js';
import { newImage, PullBudgetLow, runSucceeded, type ImageProgress, type PrefetchRun } from './prefetch-run.js';
import { describeReference, prefetchTarget, selectChildren, selectTags, type PrefetchImageConfig, type PrefetchTarget } from './prefetch-targets.js';

const RECENT_RUNS = 10;

export interface PrefetcherDeps {
  registry: Registry;
  /** `prefetch.images`. */
  images: PrefetchImageConfig[];
  /** Blobs downloaded at once. */
  concurrency: number;
  /** Stop when an upstream has this few pulls left. */
  pullReserve: number;
  /** What the upstream's last `ratelimit-remaining` said; null: unknown or unlimited. */
  pullsLeft(upstream: string): number | null;
  /** After each pinned image and at the end of a run: pins are applied again (lifecycle/pins.ts). */
  pinsChanged(): Promise<void>;
  logger: Logger;
  observer: LifecycleObserver;
  now?: () => number;
}

/**
 * Fetches images into the cache before anyone pulls them, exactly as a client would — manifests
 * through the same freshness rules, blobs through the same single-flight fills, referrers too —
 * so a later run only revalidates tags (an upstream HEAD) and fetches what changed, and a client
 * pulling the image while a run fetches it shares the downloads. At most `concurrency` blobs at
 * once; an upstream whose pull budget is down to `pullReserve` is left alone for the rest of the run.
 */
export class Prefetcher {
  private current: { run: PrefetchRun; key: string; done: Promise<PrefetchRun> } | null = null;
  private last: PrefetchRun | null = null;
  /** The last few runs by id, so a client that started one can read its end after another began. */
  private readonly recent: PrefetchRun[] = [];
  /** Refs asked for while a run went on (a pinned tag moved): the next run fetches them. */
  private queued = new Set<string>();
  private stopping = false;

  constructor(private readonly deps: PrefetcherDeps) {}

  get configured(): boolean {
    return this.deps.images.length > 0;
  }

  /** The run in progress, else the last one; null before the first. */
  get status(): { running: boolean; run: PrefetchRun | null } {
    return { running: this.current !== null, run: this.current?.run ?? this.last };
  }

  /** A recent run by id (in progress or finished), or null. */
  find(id: string): PrefetchRun | null {
    return this.current?.run.id === id ? this.current.run : (this.recent.find((r) => r.id === id) ?? null);
  }

  /** Shutdown: the run in progress starts no new download (those running finish) and no run starts after it. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queued.clear();
    await this.current?.done.catch(() => {});
  }

  /**
   * Starts a run of `refs` (configured entries by their `ref`, or any image ref with the defaults),
   * or of every configured image. A request for what is running joins it; another one is
   * PREFETCH_IN_PROGRESS. Throws PARAMETER_INVALID for a ref that names no upstream image.
   */
  start(refs: string[] | null, trigger: PrefetchRun['trigger']): { run: PrefetchRun; done: Promise<PrefetchRun>; joined: boolean } {
    const key = refs === null ? '*' : [...refs].sort().join('\n');
    if (this.current) {
      if (this.current.key === key) return { run: this.current.run, done: this.current.done, joined: true };
      throw new RegistryError('PREFETCH_IN_PROGRESS', { refs: this.current.run.refs });
    }
    const targets = (refs ?? this.deps.images.map((i) => i.ref)).map((ref) =>
      prefetchTarget(this.deps.registry, this.deps.images.find((i) => i.ref === ref) ?? { ref, tags: [], platforms: [], pin: false }),
    );
    const run: PrefetchRun = { id: randomUUID(), trigger, refs, startedAt: this.now(), finishedAt: null, images: targets.map((t) => newImage(t.ref, t.pin)) };
    const done = this.execute(run, targets);
    this.current = { run, key, done };
    return { run, done, joined: false };
  }

  /** A pinned tag moved: fetch its image now, or after the run in progress. */
  refresh(ref: string): void {
    if (this.stopping) return;
    if (this.current) {
      if (this.current.run.refs === null || this.current.run.refs.includes(ref)) return;
      this.queued.add(ref);
      return;
    }
    this.startQuietly([ref], 'tag moved');
  }

  private async execute(run: PrefetchRun, targets: PrefetchTarget[]): Promise<PrefetchRun> {
    const { logger, observer } = this.deps;
    const limit = pLimit(this.deps.concurrency);
    const lowBudget = new Map<string, PullBudgetLow>();
    const placeholders = [...run.images]; // one per target, in order; each is replaced by the target's references
    try {
      for (const [i, target] of targets.entries()) {
        const images = await this.expand(run, target, placeholders[i]!, lowBudget);
        for (const [reference, progress] of images) {
          const low = lowBudget.get(target.route.upstream);
          if (low || this.stopping) {
            finish(progress, 'skipped', low?.message ?? 'Stowage is shutting down', this.now());
            continue;
          }
          try {
            await this.fetchImage(target, reference, progress, limit);
            if (target.pin) await this.deps.pinsChanged();
          } catch (e) {
            if (e instanceof PullBudgetLow) lowBudget.set(target.route.upstream, e);
            finish(progress, e instanceof PullBudgetLow ? 'skipped' : 'failed', errorText(e), this.now());
          }
        }
      }
      await this.deps.pinsChanged().catch((err: unknown) => logger.warn({ err }, 'applying pins after a prefetch run failed'));
    } finally {
      run.finishedAt = this.now();
      this.last = run;
      this.recent.unshift(run);
      this.recent.splice(RECENT_RUNS);
      this.current = null;
      const ok = runSucceeded(run);
      observer.prefetchRun({ outcome: ok ? 'completed' : 'failed', at: run.finishedAt });
      const failed = run.images.filter((i) => i.state !== 'done').map((i) => ({ ref: i.ref, state: i.state, error: i.error }));
      const summary = { trigger: run.trigger, images: run.images.length, bytes: run.images.reduce((s, i) => s + i.bytesDone, 0), durationMs: run.finishedAt - run.startedAt };
      if (ok) logger.info(summary, 'prefetch run done');
      else logger.warn({ ...summary, failed }, 'prefetch run done; some images could not be fetched');
      const queued = [...this.queued];
      this.queued.clear();
      if (queued.length > 0 && !this.stopping) this.startQuietly(queued, 'tag moved');
    }
    return run;
  }

  private startQuietly(refs: string[], trigger: PrefetchRun['trigger']): void {
    try {
      this.start(refs, trigger).done.catch(() => {});
    } catch (err) {
      this.deps.logger.warn({ err, refs }, 'could not start a prefetch run');
    }
  }

  /** The target's references, each with its progress entry (tags of a pattern or range are listed upstream first). */
  private async expand(run: PrefetchRun, target: PrefetchTarget, placeholder: ImageProgress, lowBudget: Map<string, PullBudgetLow>): Promise<Array<[Reference, ImageProgress]>> {
    const select = target.select;
    if ('fixed' in select) {
      const entries = select.fixed.map((reference, i): [Reference, ImageProgress] => [reference, i === 0 ? placeholder : newImage('', target.pin)]);
      for (const [reference, progress] of entries) progress.ref = describeReference(target, reference);
      run.images.splice(run.images.indexOf(placeholder), 1, ...entries.map(([, p]) => p));
      return entries;
    }
    placeholder.state = 'fetching';
    placeholder.startedAt = this.now();
    try {
      if (lowBudget.has(target.route.upstream)) throw lowBudget.get(target.route.upstream)!;
      const tags = selectTags(select, await this.repository(target).listTags());
      if (tags.length === 0) throw new Error(`no tag of ${target.route.upstream}/${target.route.remoteName} matches`);
      const entries = tags.map((tag): [Reference, ImageProgress] => [{ kind: 'tag', tag }, newImage(describeReference(target, { kind: 'tag', tag }), target.pin)]);
      run.images.splice(run.images.indexOf(placeholder), 1, ...entries.map(([, p]) => p));
      return entries;
    } catch (e) {
      finish(placeholder, e instanceof PullBudgetLow ? 'skipped' : 'failed', errorText(e), this.now());
      return [];
    }
  }

  /** The manifest (and an index's children of the chosen platforms), referrers, then every blob. */
  private async fetchImage(target: PrefetchTarget, reference: Reference, progress: ImageProgress, limit: ReturnType<typeof pLimit>): Promise<void> {
    const repository = this.repository(target);
    progress.state = 'fetching';
    progress.startedAt = this.now();
    const upstream = target.route.upstream;
    const blobs = new Map<Digest, Descriptor>();
    const seen = new Set<Digest>();
    const visit = async (ref: Reference, platforms: string[] | null): Promise<Digest> => {
      this.checkBudget(upstream);
      const manifest = await repository.getManifest(ref, { accept: null, head: false, waitForRevalidation: true });
      if (seen.has(manifest.digest)) return manifest.digest;
      seen.add(manifest.digest);
      const summary = summarizeManifest(manifest.bytes!, manifest.mediaType);
      for (const d of [...(summary.config ? [summary.config] : []), ...summary.layers]) blobs.set(d.digest, d);
      for (const child of selectChildren(summary, platforms)) await visit({ kind: 'digest', digest: child.digest }, null);
      for (const referrer of await this.referrers(repository, manifest.digest)) await visit({ kind: 'digest', digest: referrer.digest }, null);
      return manifest.digest;
    };
    progress.digest = await visit(reference, target.platforms);
    progress.bytesTotal = [...blobs.values()].reduce((sum, d) => sum + d.size, 0);
    progress.blobsTotal = blobs.size;
    const results = await Promise.allSettled([...blobs.values()].map((d) => limit(() => this.fetchBlob(repository, d, progress))));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    finish(progress, 'done', null, this.now());
  }

  /** A blob as a client's GET would have it: already cached (nothing read), or filled and read to its end. */
  private async fetchBlob(repository: Repository, descriptor: Descriptor, progress: ImageProgress): Promise<void> {
    if (this.stopping) throw new Error('Stowage is shutting down');
    const body = await repository.openBlob(descriptor.digest, null);
    // Stored already: its bytes are not read (a redirect to the object store means stored, too).
    if ('location' in body || body.source === 'cache') {
      if (!('location' in body)) await body.reader.close();
      progress.bytesDone += descriptor.size;
      progress.blobsDone++;
      return;
    }
    let received = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        progress.bytesDone += chunk.length;
        callback();
      },
    });
    try {
      await body.reader.ready();
      await body.reader.pipeTo(sink);
    } catch (e) {
      progress.bytesDone -= received;
      await body.reader.close().catch(() => {});
      throw e;
    }
    progress.blobsDone++;
  }

  /** Signatures, SBOMs, attestations of a manifest; an upstream that cannot say leaves the image without them. */
  private async referrers(repository: Repository, digest: Digest): Promise<Descriptor[]> {
    try {
      return (await repository.listReferrers(digest)).manifests;
    } catch (err) {
      this.deps.logger.debug({ err, digest }, 'prefetch: no referrers from the upstream');
      return [];
    }
  }

  private checkBudget(upstream: string): void {
    const left = this.deps.pullsLeft(upstream);
    if (left !== null && left <= this.deps.pullReserve) throw new PullBudgetLow(upstream, left);
  }

  private repository(target: PrefetchTarget): Repository {
    return this.deps.registry.open(target.route);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function finish(progress: ImageProgress, state: ImageProgress['state'], error: string | null, at: number): void {
  progress.state = state;
  progress.error = error;
  progress.finishedAt = at;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
