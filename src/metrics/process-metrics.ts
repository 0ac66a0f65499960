import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's Node/process metrics (CPU, memory, heap, GC, event-loop lag, file descriptors),
 * collected into a registry of their own (never prom-client's global `register`) and registered
 * into each app's registry by StowageMetrics.
 *
 * Why one per process rather than one per app: these describe the process, not an app, and
 * `collectDefaultMetrics` starts collectors that cannot be stopped (an event-loop-delay timer, a GC
 * PerformanceObserver). One set per app would leak both for every app a test process builds. This
 * is the one deliberate piece of module-level state in the metrics code; it holds no app data.
 *
 * Left out: the `nodejs_active_{handles,requests,resources}_total` gauges, whose `_total` suffix
 * breaks Prometheus naming rules (promtool flags them); the same numbers are exported without the
 * suffix, broken down by type.
 */
const EXCLUDED = new Set(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);

let shared: Registry | undefined;

export function processMetrics(): Registry {
  if (shared === undefined) {
    const collected = new Registry();
    collectDefaultMetrics({ register: collected });
    for (const name of EXCLUDED) collected.removeSingleMetric(name);
    shared = collected;
  }
  return shared;
}
