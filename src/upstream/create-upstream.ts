import { pino, type Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { ConcurrencyGate } from './concurrency-gate.js';
import { HttpExchange } from './http-exchange.js';
import { RegistryAuthenticator } from './registry-auth.js';
import { RegistryClient } from './registry-client.js';
import { RegistryUpstream } from './registry-upstream.js';
import { DEFAULT_RETRY_TUNING, type RetryTuning } from './retry-policy.js';
import { TokenCache } from './token-cache.js';
import { NOOP_UPSTREAM_OBSERVER, type Upstream, type UpstreamObserver, type UpstreamSettings } from './upstream.js';

export interface UpstreamDeps {
  /**
   * Sends every request (registry, token realm, CDN). Default: an undici `Agent` owned by this
   * upstream, with the settings' timeouts, closed by `Upstream.close()`. A dispatcher passed in (a
   * shared Agent, a MockAgent in tests) belongs to the caller and is not closed.
   */
  dispatcher?: Dispatcher;
  observer?: UpstreamObserver;
  logger?: Logger;
  /** Wall clock in ms, for token lifetimes and HTTP-date `Retry-After`. Default `Date.now`. */
  now?: () => number;
  /** Backoff tuning; tests shorten it. Default DEFAULT_RETRY_TUNING. */
  retry?: Partial<RetryTuning>;
}

/**
 * How the upstream client is put together (outermost first):
 *
 *   registry-upstream.ts   Upstream: paths, manifest/blob/tag answers → results or UpstreamError
 *     resumable-blob-body.ts   blob stream that resumes with Range after a cut
 *   registry-client.ts     one registry request: authorization per hop, redirects (redirect-policy.ts)
 *     registry-auth.ts       401 challenges (auth-challenge.ts), tokens (token-cache.ts, token-client.ts),
 *                            where credentials may go (realm-policy.ts)
 *   http-exchange.ts       one HTTP request: concurrency slot (concurrency-gate.ts), retries and
 *                          backoff (retry-policy.ts), observer + rate-limit headers (rate-limit-headers.ts)
 *   undici Dispatcher      an Agent per upstream (or one passed in)
 *
 * Builds the client for one configured upstream registry. Everything it creates (Agent, token cache,
 * challenge memory, concurrency gate) belongs to the returned instance: two upstreams — or two apps in
 * one test process — share nothing.
 */
export function createUpstream(settings: UpstreamSettings, deps: UpstreamDeps = {}): Upstream {
  const upstreamUrl = parseUpstreamUrl(settings);
  const ownedAgent = deps.dispatcher
    ? null
    : new Agent({
        connect: { timeout: settings.connectTimeoutMs },
        headersTimeout: settings.headersTimeoutMs,
        bodyTimeout: settings.bodyTimeoutMs,
      });
  const dispatcher = deps.dispatcher ?? (ownedAgent as Agent);
  const logger = (deps.logger ?? pino({ level: 'silent' })).child({ upstream: settings.name });
  const now = deps.now ?? Date.now;

  const http = new HttpExchange({
    upstream: settings.name,
    dispatcher,
    gate: new ConcurrencyGate(settings.concurrency),
    observer: deps.observer ?? NOOP_UPSTREAM_OBSERVER,
    logger,
    retries: Math.max(0, settings.retries),
    tuning: { ...DEFAULT_RETRY_TUNING, ...deps.retry },
    headersTimeoutMs: settings.headersTimeoutMs,
    bodyTimeoutMs: settings.bodyTimeoutMs,
    now,
  });
  const credentials =
    settings.username !== undefined && settings.password !== undefined ? { username: settings.username, password: settings.password } : null;
  const auth = new RegistryAuthenticator({ upstreamUrl, credentials, tokens: new TokenCache(now), http, logger, deadlineMs: settings.requestDeadlineMs });
  const client = new RegistryClient(upstreamUrl, http, auth, settings.requestDeadlineMs);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= ownedAgent ? closeAgent(ownedAgent, Math.min(settings.bodyTimeoutMs, MAX_CLOSE_GRACE_MS)) : Promise.resolve());
  return new RegistryUpstream(settings, client, deps.observer ?? NOOP_UPSTREAM_OBSERVER, logger, close);
}

const MAX_CLOSE_GRACE_MS = 5_000;

/**
 * Lets requests in flight finish for up to `graceMs`, then destroys what is left: a blob stream that
 * nobody reads any more must not keep shutdown waiting forever. Callers are expected to have drained
 * their own work (blob fills) before closing.
 */
async function closeAgent(agent: Agent, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
    timer.unref();
  });
  // close() rejects once destroy() overtakes it; either way the agent is done.
  const closed = agent.close().then(
    () => 'closed' as const,
    () => 'closed' as const,
  );
  const outcome = await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  if (outcome === 'timeout') await agent.destroy();
}

function parseUpstreamUrl(settings: UpstreamSettings): URL {
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    throw new TypeError(`upstream ${settings.name}: invalid url`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`upstream ${settings.name}: url must be http(s)`);
  if (url.username || url.password) throw new TypeError(`upstream ${settings.name}: put credentials in username/password, not the url`);
  url.search = '';
  url.hash = '';
  return url;
}
