import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { GarbageCollector, GcRequest } from '../../lifecycle/garbage-collector.js';
import type { GcReport } from '../../lifecycle/gc-report.js';
import { isoDate, type ApiContext } from './context.js';
import { viewerOf } from './guard.js';

/**
 * POST /api/v1/gc?dryRun=true — a garbage collection run of every hosted repository (admins), answered
 * with its report once it finished (seconds, even for a large store: bench figure 12). A dry run
 * reports what would be removed and changes nothing. GET /api/v1/gc — whether a run is in progress
 * and the last one's report.
 */
export function registerGcRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { gc } = ctx.services;
  api.post('/gc', async (request) => {
    requireAdmin(viewerOf(request));
    const dryRun = parseDryRun((request.query as Record<string, string | undefined>).dryRun);
    return gcReportJson(await gc.run({ dryRun, repository: null }));
  });
  api.get('/gc', async (request) => {
    requireAdmin(viewerOf(request));
    return gcStatusJson(gc);
  });
}

function requireAdmin(viewer: { user: string | null; admin: boolean }): void {
  if (viewer.admin) return;
  if (viewer.user === null) throw new RegistryError('UNAUTHORIZED', null, { message: 'sign in as an admin to run garbage collection' });
  throw new RegistryError('DENIED', null, { message: 'only admins (auth.admins) may run garbage collection' });
}

/** `dryRun=true|false` (also 1/0); absent is false. */
export function parseDryRun(value: string | undefined): GcRequest['dryRun'] {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new RegistryError('PARAMETER_INVALID', { parameter: 'dryRun', value: value.slice(0, 100) }, { message: 'dryRun is true or false' });
}

export function gcReportJson(report: GcReport) {
  return { ...report, startedAt: isoDate(report.startedAt), finishedAt: isoDate(report.finishedAt) };
}

/** For GET /api/v1/gc and the stats page: a run in progress, and the last one's report without its lists. */
export function gcStatusJson(gc: GarbageCollector) {
  const last = gc.lastReport;
  if (!last) return { running: gc.running, last: null };
  const { removed: _removed, ...counts } = gcReportJson(last);
  return { running: gc.running, last: counts };
}
