import type { FastifyInstance } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { ApiContext } from './context.js';
import { registerGcRoutes } from './gc.js';
import { apiGuard } from './guard.js';
import { registerInfoRoutes } from './info.js';
import { registerPrefetchRoutes } from './prefetch.js';
import { registerRepositoryRoutes } from './repositories.js';
import { registerSessionRoutes } from './session.js';
import { registerStatsRoutes } from './stats.js';
import { SessionCookies } from './session-cookies.js';
import type { Services } from '../../services.js';

/**
 * The JSON API under /api/v1 that the UI (and scripts) use. One guard identifies the caller and
 * checks mutating calls for cross-site requests (guard.ts); each file adds its endpoints. A new
 * endpoint is one file and one line here.
 */
export function registerApiRoutes(server: FastifyInstance, services: Services, access: AccessControl): void {
  // Replicas share one session key, so a sign-in on one is good on all (round-robin balancers).
  const ctx: ApiContext = { services, access, sessions: new SessionCookies(services.cluster?.sessionKey) };
  server.register(
    async (api) => {
      api.addHook('onRoute', (route) => {
        route.config = { ...route.config, metricsRoute: 'api' };
      });
      api.addHook('onRequest', apiGuard(access, ctx.sessions));
      registerSessionRoutes(api, ctx);
      registerInfoRoutes(api, ctx);
      registerRepositoryRoutes(api, ctx);
      registerStatsRoutes(api, ctx);
      registerGcRoutes(api, ctx);
      registerPrefetchRoutes(api, ctx);
    },
    { prefix: '/api/v1' },
  );
}
