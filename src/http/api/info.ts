import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';

/**
 * GET /api/v1/info — what the UI needs to write pull commands: the registry's host as clients
 * name it (`server.publicUrl`, else the Host of this request), the upstreams and the default one.
 */
export function registerInfoRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.get('/info', async (request) => {
    const { config } = ctx.services;
    return {
      registry: registryHost(config.server.publicUrl, request),
      // Plain HTTP: podman, nerdctl and crane need their insecure-registry flag.
      insecure: (config.server.publicUrl ? new URL(config.server.publicUrl).protocol : `${request.protocol}:`) === 'http:',
      upstreams: Object.keys(config.upstreams),
      defaultUpstream: config.defaultUpstream,
      hosted: config.hosted,
      auth: ctx.access.mode,
    };
  });
}

/** `registry.example.com` or `host:port`, the registry part of an image reference. */
export function registryHost(publicUrl: string | null, request: FastifyRequest): string {
  if (publicUrl) {
    const url = new URL(publicUrl);
    return `${url.host}${url.pathname.replace(/\/+$/, '')}`;
  }
  return request.host;
}
