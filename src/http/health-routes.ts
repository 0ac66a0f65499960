import type { FastifyInstance } from 'fastify';
import type { Readiness } from '../metrics/readiness.js';

const LIVE = ['/healthz', '/health', '/health/live'];
const READY = ['/readyz', '/health/ready'];
// Probes arrive every few seconds: their request log lines would drown everything else.
const PROBE_ROUTE = { logLevel: 'warn', config: { metricsRoute: 'health' } } as const;

/**
 * Probes for orchestrators and load balancers (HEAD works too):
 * - liveness `/healthz` (`/health`, `/health/live`): 200 while the process serves HTTP. It touches
 *   neither network nor disk, so a slow upstream or a full disk never gets the process restarted.
 * - readiness `/readyz` (`/health/ready`): 200 when storage accepts writes and the instance is not
 *   shutting down, else 503 with the failing check. Upstream health is deliberately not part of it:
 *   cached content is still served when an upstream is down.
 */
export function registerHealthRoutes(server: FastifyInstance, readiness: Readiness): void {
  for (const url of LIVE) {
    server.get(url, PROBE_ROUTE, async (_request, reply) =>
      reply.header('Cache-Control', 'no-store').header('Content-Type', 'application/json').send('{"status":"ok"}'),
    );
  }
  for (const url of READY) {
    server.get(url, PROBE_ROUTE, async (_request, reply) => {
      const report = await readiness.report();
      return reply
        .code(report.ready ? 200 : 503)
        .header('Cache-Control', 'no-store')
        .header('Content-Type', 'application/json')
        .send(JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks }));
    });
  }
}
