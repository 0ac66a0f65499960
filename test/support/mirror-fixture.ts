/**
 * The pull-through setup every real-client mirror test uses:
 *
 *   client ──► Stowage (127.0.0.1, the mirror) ──► fake hub ("Docker Hub": token auth, 307 to a CDN,
 *                                                   │          request counters)
 *                                                   └──► docker-registry (the content:
 *                                                        library/alpine:latest, seeded by skopeo)
 *
 * `startMirror()` starts a Stowage with its own empty cache (`team/**` hosted, everything else
 * proxied from `docker.io` = the fake hub), so each client in a file can show a cold pull that
 * reaches the hub. `mirror.requests` records every request that reached that Stowage (method and
 * raw URL, `?ns=` included, and the status Stowage answered), from Node's own `request` event:
 * exactly what the client sent.
 */
import { buildAlpineImage, seedAlpine } from './alpine-image.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';
import type { BuiltImage } from './oci-layout.js';
import { tempDir } from './processes.js';
import { startReferenceRegistry, type ReferenceRegistry } from './reference-registry.js';
import { createSkopeo } from './skopeo.js';
import { startStowage, type RunningStowage } from './stowage.js';

export interface StowageRequest {
  method: string;
  /** Path and query as sent by the client. */
  url: string;
  /** The status Stowage answered with (read when accessed); 0 while no response head was sent. */
  readonly status: number;
}

export interface Mirror {
  stowage: RunningStowage;
  readonly requests: StowageRequest[];
}

export interface MirrorFixture {
  backend: ReferenceRegistry;
  hub: FakeHub;
  /** The seeded `library/alpine:latest`. */
  image: BuiltImage;
  /** A new Stowage with an empty cache in front of the hub, `config` merged in (auth); stopped by `close()`. */
  startMirror(config?: Record<string, unknown>): Promise<Mirror>;
  /** Forgets the hub's request log and every mirror's. */
  resetCounters(): void;
  /** Stops everything that was started; safe after a partial start. */
  close(): Promise<void>;
}

export async function startMirrorFixture(): Promise<MirrorFixture> {
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {});
  };
  try {
    const work = await tempDir('mirror-fixture');
    closers.push(() => work.remove());
    const skopeo = await createSkopeo({ timeoutMs: 30_000 });
    closers.push(() => skopeo.close());
    const backend = await startReferenceRegistry();
    closers.push(() => backend.close());
    const image = await seedAlpine(skopeo, backend.host, work.path, buildAlpineImage());
    const hub = await startFakeHub({ auth: 'anonymous-token', cdn: true, backend: backend.url });
    closers.push(() => hub.close());

    const mirrors: Mirror[] = [];
    return {
      backend,
      hub,
      image,
      async startMirror(config = {}) {
        const stowage = await startStowage({
          config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io', ...config },
        });
        closers.push(() => stowage.close());
        const requests: StowageRequest[] = [];
        stowage.app.server.server.on('request', (request, response) => {
          // The head, not 'finish': a blob response may still be open (Stowage ends it once the
          // fill has committed) after the client read every Content-Length byte and hung up.
          requests.push({
            method: request.method ?? '',
            url: request.url ?? '',
            get status() {
              return response.headersSent ? response.statusCode : 0;
            },
          });
        });
        const mirror = { stowage, requests };
        mirrors.push(mirror);
        return mirror;
      },
      resetCounters() {
        hub.reset();
        for (const mirror of mirrors) mirror.requests.length = 0;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
