import type { FastifyInstance } from 'fastify';
import type { ClusterObserver } from '../cluster/cluster-observer.js';
import { PEER_HEADER, type PeerSignature } from '../cluster/peer-signature.js';
import { isDigest } from '../oci/digest.js';
import type { BlobFills } from '../registry/blob-fills.js';
import { sendBlob } from './handlers/blobs.js';
import { parseRangeHeader } from './range-header.js';
import { endpointUnknown } from './v2-path.js';

/**
 * The endpoint other replicas stream a blob from while this replica downloads it
 * (cluster/peer-client.ts). Only for callers holding `cluster.secret`: anything without a valid
 * signature — every client — gets the same 404 as a path that does not exist, so the endpoint is
 * neither usable nor discoverable from outside. Registered only in cluster mode.
 */
export function registerPeerRoutes(server: FastifyInstance, deps: { fills: BlobFills; signature: PeerSignature; observer: ClusterObserver }): void {
  server.get<{ Params: { digest: string } }>('/_stowage/cluster/fills/:digest', { exposeHeadRoute: false, config: { metricsRoute: 'cluster' } }, async (request, reply) => {
    const path = (request.raw.url ?? '').split('?')[0]!;
    const { digest } = request.params;
    if (!deps.signature.verify(request.method, path, request.headers[PEER_HEADER]) || !isDigest(digest)) {
      deps.observer.peerRefused();
      throw endpointUnknown(path);
    }
    const blob = await deps.fills.readForPeer(digest, parseRangeHeader(request.headers.range));
    if (!blob) return reply.code(404).header('Content-Length', 0).send();
    await sendBlob(request, reply, digest, blob, (bytes) => deps.observer.servedToPeer(bytes));
  });
}
