import { RegistryError } from '../../oci/errors.js';
import type { Route } from '../../registry/registry.js';
import { describeKey } from '../../registry/repository-views.js';
import type { Services } from '../../services.js';
import type { AccessControl } from '../../auth/access-control.js';
import type { SessionCookies } from './session-cookies.js';

/** What every API route file receives. */
export interface ApiContext {
  services: Services;
  access: AccessControl;
  sessions: SessionCookies;
}

/**
 * The route of a canonical repository name (`team/app`, `docker.io/library/alpine`). Other
 * spellings the registry accepts (`library/alpine` through the default upstream) are NAME_UNKNOWN
 * here: the API has one name per repository.
 */
export function routeOfCanonical(services: Services, name: string): Route {
  let route: Route;
  try {
    route = services.registry.route(name as Parameters<Services['registry']['route']>[0]);
  } catch {
    throw new RegistryError('NAME_UNKNOWN', { name });
  }
  if (describeKey(route.key).name !== name) throw new RegistryError('NAME_UNKNOWN', { name }, { message: `not a canonical repository name; cached repositories are named <upstream>/<repository>` });
  return route;
}

export const isoDate = (ms: number | null | undefined): string | null => (ms === null || ms === undefined || ms <= 0 ? null : new Date(ms).toISOString());
