import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { Digest } from '../oci/digest.js';
import { resolveRange } from '../registry/byte-range.js';
import type { PeerBlob } from '../registry/fill-coordinator.js';
import type { RangeRequest } from '../registry/repository.js';
import type { ClusterObserver } from './cluster-observer.js';
import { PEER_HEADER, type PeerSignature } from './peer-signature.js';

/** The peer endpoint that serves a blob a replica downloads (http/peer-routes.ts). */
export const peerFillPath = (digest: Digest): string => `/_stowage/cluster/fills/${digest}`;

/**
 * Streams a blob from the replica that downloads it, for a client of this one. The owner answers
 * once its first byte can be sent, with the usual `Content-Length`/`Content-Range`, and holds the
 * last byte back until the digest matched — so a client here never gets a complete wrong blob:
 * when the owner's download fails or the owner dies, the response here is cut.
 */
export class PeerClient {
  // Peers are on the same network: keep connections open; the first byte may take as long as the
  // owner's upstream takes to answer (its own requestDeadline), and bytes flow at its pace.
  private readonly agent = new Agent({ connections: 64, keepAliveTimeout: 10_000, connectTimeout: 2_000, headersTimeout: 60_000, bodyTimeout: 60_000 });

  constructor(private readonly deps: { signature: PeerSignature; observer: ClusterObserver; logger: Logger }) {}

  /** `range` of `digest` from the replica at `ownerUrl`; null when it does not have it (see FillPlan). */
  async open(ownerUrl: string, digest: Digest, range: RangeRequest | null): Promise<PeerBlob | null> {
    const path = peerFillPath(digest);
    const headers: Record<string, string> = { [PEER_HEADER]: this.deps.signature.sign('GET', path) };
    if (range) headers.range = rangeHeader(range);
    let response;
    try {
      response = await request(`${ownerUrl}${path}`, { method: 'GET', headers, dispatcher: this.agent });
    } catch (err) {
      this.deps.logger.debug({ err, digest, owner: ownerUrl }, 'the replica downloading a blob did not answer');
      return null;
    }
    const { statusCode, body } = response;
    const header = (name: string): string => String(response.headers[name] ?? '');
    if (statusCode === 416 && range) {
      await body.dump();
      resolveRange(range, Number(/\/(\d+)$/.exec(header('content-range'))?.[1] ?? 0)); // throws the client's 416
    }
    if (statusCode !== 200 && statusCode !== 206) {
      await body.dump();
      if (statusCode !== 404) this.deps.logger.warn({ digest, owner: ownerUrl, status: statusCode }, 'a peer refused to stream a blob it downloads');
      return null;
    }
    const length = Number(header('content-length'));
    const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header('content-range'));
    const size = statusCode === 206 && contentRange ? Number(contentRange[3]) : length;
    const { observer } = this.deps;
    return {
      size,
      ...(statusCode === 206 && contentRange ? { range: { start: Number(contentRange[1]), end: Number(contentRange[2]) } } : {}),
      reader: {
        length,
        ready: async () => {},
        pipeTo: async (destination) => {
          observer.peerStreams(1);
          try {
            await pipeline(body, destination);
            observer.peerStreamEnded('complete');
          } catch (e) {
            observer.peerStreamEnded('cut');
            throw e;
          } finally {
            observer.peerStreams(-1);
          }
        },
        close: async () => {
          body.destroy();
        },
      },
    };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function rangeHeader(range: RangeRequest): string {
  if ('suffix' in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ''}`;
}
