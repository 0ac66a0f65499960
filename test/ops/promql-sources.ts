/**
 * The PromQL shipped to users — every target of docs/grafana-dashboard.json and every ```promql
 * block of docs/metrics.md — so tests can check that it names real metrics and that Prometheus
 * accepts it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const docs = (file: string): string => fileURLToPath(new URL(`../../docs/${file}`, import.meta.url));

export interface ShippedQuery {
  where: string;
  /** As written, with Grafana variables. */
  expr: string;
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { type: string; uid: string } }>;
  panels?: GrafanaPanel[];
}

export interface GrafanaDashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  title: string;
  uid: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: Array<{ name: string; query: string | { query: string }; datasource?: { uid: string } }> };
}

export function loadDashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(docs('grafana-dashboard.json'), 'utf8')) as GrafanaDashboard;
}

export function dashboardQueries(): ShippedQuery[] {
  const dashboard = loadDashboard();
  const queries: ShippedQuery[] = [];
  for (const panel of dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])) {
    for (const target of panel.targets ?? []) queries.push({ where: `dashboard panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    // label_values(<selector>, label) is Grafana's; its selector is the PromQL part.
    const selector = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
    if (selector) queries.push({ where: `dashboard variable ${variable.name}`, expr: selector });
  }
  return queries;
}

export function documentedQueries(): ShippedQuery[] {
  const text = readFileSync(docs('metrics.md'), 'utf8');
  return [...text.matchAll(/```promql\n([\s\S]*?)```/g)].map((m, i) => ({ where: `docs/metrics.md promql block ${i + 1}`, expr: m[1]!.trim() }));
}

/** The YAML blocks of docs/metrics.md (the scrape config example, the metrics.listen example). */
export function documentedYaml(): string[] {
  const text = readFileSync(docs('metrics.md'), 'utf8');
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Grafana's variables replaced by plain PromQL values (all-matching selectors, fixed ranges). */
export function substituteGrafanaVariables(expr: string): string {
  const values: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m', job: '.*', instance: '.*', upstream: '.*' };
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** Metric names a query refers to (Stowage's and the Node/process ones). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:stowage|process|nodejs)_[a-z0-9_]+\b/g) ?? [])];
}
