import { useEffect } from 'preact/hooks';
import { formatAgo, formatBytes, formatCount, formatDate, formatPercent, shortDigest } from '../format';
import { LineChart } from '../components/chart';
import { GcPanel } from '../components/gc-panel';
import { PrefetchPanel } from '../components/prefetch-panel';
import { ErrorState, Loading } from '../components/states';
import { Badge } from '../components/table';
import type { Stats } from '../types';
import { useApi } from '../use-api';

const REFRESH_MS = 10_000;

/** What the cache saves and whether an upstream is in trouble; refreshed every 10 s. */
export function StatsView() {
  const { data, error, reload } = useApi<Stats>('stats');
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
  if (error && !data) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading />;
  const { cache, bytes, storage } = data;
  const budget = storage.budgetBytes;
  // Per-interval figures from the cumulative samples.
  const every = data.historyIntervalMs >= 1000 ? `${Math.round(data.historyIntervalMs / 1000)} s` : `${data.historyIntervalMs} ms`;
  const steps = data.history.slice(1).map((s, i) => {
    const prev = data.history[i]!;
    const requests = s.requests - prev.requests;
    return {
      ratio: requests > 0 ? (requests - (s.misses - prev.misses)) / requests : null,
      cache: s.bytesFromCache - prev.bytesFromCache,
      upstream: s.bytesFromUpstream - prev.bytesFromUpstream,
    };
  });
  return (
    <section>
      <header class="page-header">
        <h1>Cache statistics</h1>
        <span class="muted">since this process started · refreshes every 10 s</span>
      </header>
      <div class="cards">
        <div class="card" data-figure="hit-ratio">
          <h2>Hit ratio</h2>
          <p class="big">{formatPercent(cache.hitRatio)}</p>
          <p class="muted">{formatCount(cache.requests - cache.miss)} of {formatCount(cache.requests)} requests served without an upstream download</p>
        </div>
        <div class="card" data-figure="saved">
          <h2>Bandwidth saved</h2>
          <p class="big">{formatBytes(bytes.saved)}</p>
          <p class="muted">served from cache; {formatBytes(bytes.fromUpstream)} came from upstreams</p>
        </div>
        <div class="card" data-figure="storage">
          <h2>Cache storage</h2>
          <p class="big">{formatBytes(storage.cacheBytes)}</p>
          {budget > 0 ? (
            <>
              <progress max={budget} value={Math.min(storage.cacheBytes, budget)} aria-label="cache used of budget" />
              <p class="muted">of {formatBytes(budget)} budget · {formatCount(storage.evictions)} evictions ({formatBytes(storage.evictedBytes)})</p>
            </>
          ) : (
            <p class="muted">no budget set (storage.maxSize) · {formatCount(storage.cacheObjects)} blobs · {formatCount(storage.evictions)} evictions</p>
          )}
          {storage.disk && (
            <p class={storage.disk.low ? 'notice notice-error' : 'muted'} data-figure="disk">
              {formatBytes(storage.disk.freeBytes)} free on disk
              {storage.disk.low ? ` — below ${formatBytes(storage.disk.minFreeBytes)}: new blobs are passed through without being cached` : ''}
            </p>
          )}
          {storage.pinnedBytes > 0 && (
            <p class={storage.pinnedOverBudget ? 'notice notice-error' : 'muted'} data-figure="pinned">
              {formatBytes(storage.pinnedBytes)} pinned (never evicted){storage.pinnedOverBudget ? ': more than the budget' : ''}
            </p>
          )}
        </div>
        <div class="card" data-figure="outcomes">
          <h2>Requests</h2>
          <p class="big">{formatCount(cache.requests)}</p>
          <p class="muted">{formatCount(cache.hit)} hits · {formatCount(cache.miss)} misses · {formatCount(cache.coalesced)} joined a download · {formatCount(cache.stale)} served stale · {formatCount(cache.negative)} known missing</p>
        </div>
      </div>
      <div class="charts">
        <LineChart title={`Hit ratio per ${every}`} format={formatPercent} max={1} series={[{ name: 'hit ratio', values: steps.map((s) => s.ratio), class: 'series-a' }]} />
        <LineChart
          title={`Bytes served per ${every}`}
          format={formatBytes}
          series={[
            { name: 'from cache', values: steps.map((s) => s.cache), class: 'series-a' },
            { name: 'from upstream', values: steps.map((s) => s.upstream), class: 'series-b' },
          ]}
        />
      </div>
      <section class="panel">
        <h2>Upstreams</h2>
        {data.upstreams.length === 0 ? (
          <p class="muted">No upstream is configured: Stowage serves hosted repositories only.</p>
        ) : (
          <table class="table upstreams">
            <thead>
              <tr>
                <th scope="col">Upstream</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Requests</th>
                <th scope="col" class="num">Errors</th>
                <th scope="col" class="wide">Last success</th>
                <th scope="col" class="wide">Last error</th>
                <th scope="col" class="num">Pull limit left</th>
                <th scope="col" class="num wide">Hit ratio</th>
              </tr>
            </thead>
            <tbody>
              {data.upstreams.map((u) => (
                <tr>
                  <td class="name" title={u.url ?? undefined}>{u.name}</td>
                  <td>
                    {u.status === 'failing' ? <Badge kind="stale">upstream unreachable</Badge> : u.status === 'ok' ? <Badge kind="ok">ok</Badge> : <Badge kind="type">no traffic yet</Badge>}
                  </td>
                  <td class="num">{formatCount(u.requests)}</td>
                  <td class="num">{formatCount(u.errors)}</td>
                  <td class="wide" title={formatDate(u.lastSuccessAt)}>{formatAgo(u.lastSuccessAt)}</td>
                  <td class="wide" title={formatDate(u.lastError?.at)}>{u.lastError ? `${formatAgo(u.lastError.at)} (${u.lastError.status === 'error' ? 'no answer' : u.lastError.status})` : 'never'}</td>
                  <td class="num">{u.rateLimit?.remaining != null ? `${formatCount(u.rateLimit.remaining)}${u.rateLimit.limit != null ? ` / ${formatCount(u.rateLimit.limit)}` : ''}` : '—'}</td>
                  <td class="num wide">{formatPercent(u.cache.hitRatio)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="panel">
        <h2>Downloads in progress</h2>
        {data.fills.length === 0 ? (
          <p class="muted">None right now.</p>
        ) : (
          <ul class="plain fills">
            {data.fills.map((f) => (
              <li>
                <code title={f.digest}>{shortDigest(f.digest)}</code> from {f.upstream}: {formatBytes(f.bytesDone)}
                {f.size !== null ? ` of ${formatBytes(f.size)}` : ''}
                {f.size ? <progress max={f.size} value={f.bytesDone} aria-label={`download of ${shortDigest(f.digest)}`} /> : null}
              </li>
            ))}
          </ul>
        )}
      </section>
      <GcPanel gc={data.gc} changed={reload} />
      {(data.prefetch.configured || data.prefetch.run) && <PrefetchPanel prefetch={data.prefetch} />}
    </section>
  );
}
