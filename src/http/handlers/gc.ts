import { RegistryError } from '../../oci/errors.js';
import type { RepositoryName } from '../../oci/repository-name.js';
import type { GarbageCollector } from '../../lifecycle/garbage-collector.js';
import { gcReportJson, parseDryRun } from '../api/gc.js';
import type { HandlerContext } from './context.js';

/**
 * `POST /v2/_gc` (every hosted repository) and `POST /v2/<name>/_gc` (one), `?dryRun=true`: the
 * same runs as POST /api/v1/gc, for scripts that speak the registry API. Admins only (v2-access.ts).
 * Cached repositories are not collected: their size is bounded by `storage.maxSize`.
 */
export async function collectGarbage(ctx: Omit<HandlerContext<{ name: RepositoryName | null }>, 'repository'>, gc: GarbageCollector): Promise<void> {
  const { path, registry, query, reply } = ctx;
  let repository = null;
  if (path.name !== null) {
    const route = registry.route(path.name, query.ns);
    if (route.kind !== 'hosted') {
      throw new RegistryError('UNSUPPORTED', { name: path.name }, { message: 'only hosted repositories are garbage collected; cached content is bounded by storage.maxSize' });
    }
    repository = route.key;
  }
  const report = await gc.run({ dryRun: parseDryRun(query.dryRun), repository });
  reply.header('Content-Type', 'application/json').send(gcReportJson(report));
}
