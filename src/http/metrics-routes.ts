import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StowageMetrics } from '../metrics/metrics.js';

/**
 * `GET /metrics`: the Prometheus text exposition. Renders in-memory values only (no disk walk, no
 * upstream call), so a scrape costs the same however large the cache is.
 */
export function registerMetricsRoutes(server: FastifyInstance, metrics: StowageMetrics, guard?: (request: FastifyRequest) => Promise<void>): void {
  // Scrapes arrive every few seconds: no request log lines for them.
  server.get('/metrics', { logLevel: 'warn', config: { metricsRoute: 'metrics' } }, async (request, reply) => {
    await guard?.(request);
    const text = await metrics.exposition();
    return reply.header('Content-Type', metrics.contentType).header('Cache-Control', 'no-store').send(text);
  });
}

/**
 * Parses `metrics.listen`: `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (all interfaces) or `PORT`.
 * Throws a descriptive Error on anything else.
 */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new Error(`metrics.listen must be HOST:PORT, [IPV6]:PORT or :PORT, got ${JSON.stringify(value)}`);
  }
  const host = match[1] || match[2] || '0.0.0.0';
  return { host, port };
}
