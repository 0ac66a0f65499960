/** Small shared pieces of the pull-through tests: clock, polling, error codes, on-disk checks. */
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { NOOP_REGISTRY_OBSERVER, type RegistryObserver } from '../../../src/registry/registry-observer.js';

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

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** Whether the data directory holds a committed blob. */
export function blobStored(dataDir: string, digest: string): Promise<boolean> {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return exists(join(dataDir, 'blobs', algorithm, hex.slice(0, 2), hex));
}

/** Whether a proxied repository (`upstream/name`) may serve a blob from disk. */
export function blobLinked(dataDir: string, upstream: string, name: string, digest: string): Promise<boolean> {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return exists(join(dataDir, 'repositories', 'proxied', upstream, name, '_blobs', algorithm, hex));
}

/** Files left in tmp/ (a failed fill must leave none). */
export async function tmpFiles(dataDir: string): Promise<string[]> {
  return readdir(join(dataDir, 'tmp')).catch(() => []);
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
