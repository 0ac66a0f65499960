/** Small shared pieces of the pull-through tests: clock, polling, error codes, what the stores hold. */
import { Agent, type Dispatcher } from 'undici';
import { parseDigest } from '../../../src/oci/digest.js';
import { parseRepositoryName } from '../../../src/oci/repository-name.js';
import { NOOP_REGISTRY_OBSERVER, type RegistryObserver } from '../../../src/registry/registry-observer.js';
import type { PartialFill } from '../../../src/storage/fill-spool.js';
import { proxiedKey } from '../../../src/storage/repository-key.js';
import type { RunningStowage } from '../../support/stowage.js';

export { sha256 } from './controlled-upstream.js';

/** The four manifest types every current client accepts. */
export { ACCEPT_ALL_MANIFESTS as ACCEPT_ALL } from '../../support/digests.js';

/** A clock the test moves by hand (`app: { now: clock.now }`). Starts at the real time. */
export class TestClock {
  private time = Date.now();
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { errors?: Array<{ code: string }> };
  return body.errors?.[0]?.code;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rejects with a clear message instead of letting the test hang until vitest's timeout. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Whether the blob store holds a committed blob. */
export async function blobStored(stowage: RunningStowage, digest: string): Promise<boolean> {
  return (await stowage.app.storage.blobs.stat(parseDigest(digest))) !== null;
}

/** Whether a proxied repository (`upstream/name`) may serve a blob from the store. */
export function blobLinked(stowage: RunningStowage, upstream: string, name: string, digest: string): Promise<boolean> {
  return stowage.app.storage.metadata.hasBlob(proxiedKey(upstream, parseRepositoryName(name)), parseDigest(digest));
}

/** Partial fills kept in the spool (a fill that failed its digest must leave none). */
export function partialFills(stowage: RunningStowage): Promise<PartialFill[]> {
  return stowage.app.storage.spool.list();
}

/** Counts the registry events the tests assert on; everything else is a no-op. */
export class CountingObserver implements RegistryObserver {
  digestMismatches = 0;
  readonly results: string[] = [];
  cacheRequest = (event: { kind: string; result: string }): void => {
    this.results.push(`${event.kind}:${event.result}`);
  };
  bytesServed = NOOP_REGISTRY_OBSERVER.bytesServed;
  digestMismatch = (): void => {
    this.digestMismatches++;
  };
  fillsInProgress = NOOP_REGISTRY_OBSERVER.fillsInProgress;
  fillReaders = NOOP_REGISTRY_OBSERVER.fillReaders;
  eviction = NOOP_REGISTRY_OBSERVER.eviction;
  cacheSize = NOOP_REGISTRY_OBSERVER.cacheSize;
  push = NOOP_REGISTRY_OBSERVER.push;
}

/**
 * An undici Agent that records the origin of every request dispatched through it: proof that an
 * answer involved no outbound connection at all, to any host.
 */
export class RecordingAgent extends Agent {
  readonly origins: string[] = [];
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.origins.push(String(options.origin));
    return super.dispatch(options, handler);
  }
}
