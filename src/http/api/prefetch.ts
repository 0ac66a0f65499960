import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { Prefetcher } from '../../lifecycle/prefetcher.js';
import type { PrefetchRun } from '../../lifecycle/prefetch-run.js';
import { requestBody } from '../handlers/context.js';
import { readBody } from '../read-body.js';
import { isoDate, type ApiContext } from './context.js';
import { viewerOf } from './guard.js';

const MAX_BODY_BYTES = 64 * 1024;

/**
 * POST /api/v1/prefetch — starts a prefetch run (admins): of the images a JSON body
 * `{"refs":["docker.io/library/alpine:3.20", …]}` names (a configured entry by its `ref`, or any
 * image of a configured upstream, all platforms, not pinned), or without one of every
 * `prefetch.images` entry. Answers 202 with the run at once; its progress is GET /api/v1/prefetch
 * (and /api/v1/stats), or GET /api/v1/prefetch?run=<id> for that run. The same request while it
 * runs joins it; another one is 409.
 */
export function registerPrefetchRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { prefetcher } = ctx.services;
  api.post('/prefetch', async (request, reply) => {
    const viewer = viewerOf(request);
    if (!viewer.admin) {
      if (viewer.user === null) throw new RegistryError('UNAUTHORIZED', null, { message: 'sign in as an admin to prefetch' });
      throw new RegistryError('DENIED', null, { message: 'only admins (auth.admins) may prefetch' });
    }
    const refs = await readRefs(request);
    if (refs === null && !prefetcher.configured) {
      throw new RegistryError('PARAMETER_INVALID', null, { message: 'no prefetch.images are configured: name the images to fetch ({"refs":[…]})' });
    }
    const { run, joined } = prefetcher.start(refs, 'api');
    return reply.code(202).send({ joined, run: runJson(run) });
  });
  api.get('/prefetch', async (request) => {
    const viewer = viewerOf(request);
    if (viewer.user === null && !viewer.admin) throw new RegistryError('UNAUTHORIZED', null, { message: 'sign in to see prefetch runs' });
    const id = (request.query as Record<string, string | undefined>).run;
    if (id === undefined) return prefetchStatusJson(prefetcher);
    // One run by id (`stowage prefetch` follows the run it started, even once another began).
    const run = prefetcher.find(id);
    if (!run) throw new RegistryError('PARAMETER_INVALID', { run: id.slice(0, 100) }, { message: 'no recent prefetch run has this id' });
    return { running: run.finishedAt === null, configured: prefetcher.configured, run: runJson(run) };
  });
}

async function readRefs(request: FastifyRequest): Promise<string[] | null> {
  const bytes = await readBody(requestBody(request), MAX_BODY_BYTES, () => new RegistryError('PARAMETER_INVALID', null, { message: 'body too large' }));
  if (bytes.length === 0) return null;
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  const refs = (body as { refs?: unknown } | null)?.refs;
  if (refs === undefined && body !== null && typeof body === 'object' && Object.keys(body).length === 0) return null;
  if (!Array.isArray(refs) || refs.length === 0 || refs.length > 1000 || !refs.every((r) => typeof r === 'string' && r.length <= 512)) {
    throw new RegistryError('PARAMETER_INVALID', null, { message: 'expected a JSON body {"refs":["docker.io/library/alpine:3.20", …]} or none' });
  }
  return refs as string[];
}

export function runJson(run: PrefetchRun) {
  return {
    ...run,
    startedAt: isoDate(run.startedAt),
    finishedAt: isoDate(run.finishedAt),
    images: run.images.map((i) => ({ ...i, startedAt: isoDate(i.startedAt), finishedAt: isoDate(i.finishedAt) })),
  };
}

/** For GET /api/v1/prefetch and the stats page: the run in progress, else the last one. */
export function prefetchStatusJson(prefetcher: Prefetcher) {
  const { running, run } = prefetcher.status;
  return { running, configured: prefetcher.configured, run: run && runJson(run) };
}
