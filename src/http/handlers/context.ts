import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../registry/registry.js';
import type { RegistryObserver } from '../../registry/registry-observer.js';
import type { PullRecorder } from '../../registry/pull-recorder.js';
import type { Repository } from '../../registry/repository.js';

/** What every /v2 handler receives: the request, its parsed path and the resolved repository. */
export interface HandlerContext<P> {
  request: FastifyRequest;
  reply: FastifyReply;
  path: P;
  registry: Registry;
  observer: RegistryObserver;
  repository: Repository;
  query: Record<string, string | undefined>;
  manifestMaxBytes: number;
  /** Counts manifest GETs (pulls) for the UI; absent where nothing counts them. */
  pulls?: Pick<PullRecorder, 'pulled'>;
  /** Whether the caller may pull the repository with this canonical name (registry/registry.ts Route). */
  mayPull(canonicalName: string): boolean;
}

/** The raw request body stream (the catch-all content-type parser hands it over untouched). */
export const requestBody = (request: FastifyRequest): Readable => (request.body as Readable | undefined) ?? request.raw;

/** Content-Length of the request, when the client sent one. */
export function requestLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}
