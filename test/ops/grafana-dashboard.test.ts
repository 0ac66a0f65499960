/**
 * docs/grafana-dashboard.json: importable (an exported dashboard with a DS_PROMETHEUS input) and
 * every query names metrics that a running Stowage really exports. Prometheus itself checks the
 * PromQL in prometheus.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../metrics/exposition.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { dashboardQueries, documentedQueries, loadDashboard, metricNames } from './promql-sources.js';

let stowage: RunningStowage;
let exported: Set<string>;

beforeAll(async () => {
  stowage = await startStowage({ config: { upstreams: { 'docker.io': { url: 'http://127.0.0.1:9' } }, defaultUpstream: 'docker.io' } });
  const m = await scrape(stowage.url);
  exported = new Set([...m.types.keys(), ...m.samples.map((s) => s.name)]);
});
afterAll(() => stowage?.close());

describe('the Grafana dashboard', () => {
  const dashboard = loadDashboard();
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  it('is an exported dashboard with a Prometheus data source input', () => {
    expect(dashboard.title).toBe('Stowage');
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.datasource).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
    }
    for (const variable of dashboard.templating.list) expect(variable.datasource?.uid).toBe('${DS_PROMETHEUS}');
  });

  it('has unique panel ids and a non-overlapping 24-column layout', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { title, gridPos: g } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('covers hit ratio, bytes saved, upstream latency and errors, stale serves, rate limits, cache size, evictions and requests', () => {
    const all = dashboardQueries().map((q) => q.expr).join('\n');
    for (const metric of [
      'stowage_cache_requests_total',
      'stowage_served_bytes_total',
      'stowage_upstream_downloaded_bytes_total',
      'stowage_upstream_request_duration_seconds_bucket',
      'stowage_upstream_requests_total',
      'stowage_upstream_ratelimit_remaining',
      'stowage_cache_size_bytes',
      'stowage_cache_budget_bytes',
      'stowage_evictions_total',
      'stowage_http_request_duration_seconds_count',
      'stowage_http_request_duration_seconds_bucket',
    ]) {
      expect(all, metric).toContain(metric);
    }
    expect(all).toContain('result="stale"');
  });

  it('and docs/metrics.md only query metrics that Stowage exports', () => {
    const queries = [...dashboardQueries(), ...documentedQueries()];
    expect(documentedQueries().length).toBeGreaterThanOrEqual(8);
    for (const { where, expr } of queries) {
      for (const name of metricNames(expr)) expect(exported.has(name), `${where}: ${name}`).toBe(true);
    }
  });
});
