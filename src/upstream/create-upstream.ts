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
  const auth = new RegistryAuthenticator({ upstreamUrl, credentials, tokens: new TokenCache(now), http, logger });
  const client = new RegistryClient(upstreamUrl, http, auth);

  return new RegistryUpstream(settings, client, deps.observer ?? NOOP_UPSTREAM_OBSERVER, async () => {
    // close() lets in-flight requests finish; the owner drains or destroys blob streams first.
    await ownedAgent?.close();
  });
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
