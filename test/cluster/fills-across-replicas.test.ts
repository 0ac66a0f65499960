/**
 * Issue 13, "what N replicas must do", 1 and 2 (in-process part): replicas sharing a store and a real
 * Redis download a cold blob once between them; clients of the other replicas stream it from the
 * replica that downloads it while the download runs; the peer endpoint that makes this possible
 * answers only callers holding cluster.secret.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerSignature } from '../../src/cluster/peer-signature.js';
import type { FakeHub, HubRequest } from '../support/fake-hub.js';
import { requireTool } from '../support/processes.js';
import { startMirrorCluster, type MirrorCluster, type StowageCluster, sharedStore } from '../support/stowage-cluster.js';
import { scrape } from '../metrics/exposition.js';

const MB = 1024 * 1024;
const metricValue = async (url: string, name: string, labels: Record<string, string> = {}): Promise<number> => (await scrape(url)).sum(name, labels);
const cdn = (hub: FakeHub): HubRequest[] => hub.requests.filter((r) => r.kind === 'cdn');

/** Reads a whole blob response; `onFirstBytes` runs when its first chunk arrives. */
async function readBlob(url: string, onFirstBytes: () => void = () => {}): Promise<{ status: number; digest: string; bytes: number }> {
  const response = await fetch(url);
  const hash = createHash('sha256');
  let bytes = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      if (bytes === 0) onFirstBytes();
      bytes += chunk.length;
      hash.update(chunk);
    }
  }
  return { status: response.status, digest: `sha256:${hash.digest('hex')}`, bytes };
}

describe.skipIf(!requireTool('redis-server') || !sharedStore())('a blob fill across replicas', () => {
  let fixture: MirrorCluster;
  let hub: FakeHub;
  let cluster: StowageCluster;

  beforeAll(async () => {
    fixture = await startMirrorCluster({ replicas: 3, hub: { cdn: true } });
    ({ hub, cluster } = fixture);
  }, 30_000);
  afterAll(async () => {
    await fixture?.close();
  });

  it('20 clients over 3 replicas, one cold blob: one upstream download, and the other replicas stream it while it downloads', async () => {
    const size = 24 * MB;
    const layer = hub.addImage('library/shared', 'v1', { layerCount: 1, layerSize: size }).layers[0]!;
    hub.reset();
    hub.faults.bandwidth = 12 * MB; // ~2 s: long enough to see who streams during the download
    const [owner, ...others] = cluster.replicas;
    const path = `/v2/library/shared/blobs/${layer.digest}`;
    // The first client makes replica 0 the owner of the download.
    let ownerStarted!: () => void;
    const started = new Promise<void>((resolve) => (ownerStarted = resolve));
    const first = readBlob(`${owner!.url}${path}`, ownerStarted);
    await started;

    /** For each client of another replica: how much the upstream had sent when its first bytes arrived. */
    const upstreamBytesAtFirstByte: number[] = [];
    const clients = Array.from({ length: 19 }, (_, i) => {
      const replica = cluster.replicas[i % 3]!;
      const remote = replica !== owner;
      return readBlob(`${replica.url}${path}`, () => {
        if (remote) upstreamBytesAtFirstByte.push(cdn(hub)[0]?.bodyBytes ?? 0);
      });
    });
    const results = await Promise.all([first, ...clients]);

    expect(results.map((r) => `${r.status} ${r.digest} ${r.bytes}`)).toEqual(Array(20).fill(`200 ${layer.digest} ${size}`));
    // One download, sent once.
    expect(cdn(hub)).toHaveLength(1);
    expect(cdn(hub)[0]!.bodyBytes).toBe(size);
    // The other replicas' clients got bytes while the upstream was still sending, not after.
    expect(upstreamBytesAtFirstByte).toHaveLength(12);
    expect(Math.max(...upstreamBytesAtFirstByte), `upstream bytes sent at each remote client's first byte: ${upstreamBytesAtFirstByte}`).toBeLessThan(size);
    // ...through the peer endpoint: every one of them streamed from the owner.
    let peerStreams = 0;
    for (const replica of others) peerStreams += await metricValue(replica.url, 'stowage_cluster_peer_streams_total', { outcome: 'complete' });
    expect(peerStreams).toBe(12);
    expect(await metricValue(owner!.url, 'stowage_cluster_peer_served_bytes_total')).toBe(12 * size);

    // Stored once for all: every replica now serves it from the store without the upstream.
    hub.reset();
    for (const replica of cluster.replicas) expect((await readBlob(`${replica.url}${path}`)).digest).toBe(layer.digest);
    expect(hub.count()).toBe(0);
  }, 60_000);

  it('a Range request on another replica is answered from the download in progress', async () => {
    const size = 8 * MB;
    const layer = hub.addImage('library/ranged', 'v1', { layerCount: 1, layerSize: size }).layers[0]!;
    hub.reset();
    hub.faults.bandwidth = 8 * MB;
    const [owner, other] = cluster.replicas;
    const path = `/v2/library/ranged/blobs/${layer.digest}`;
    let started!: () => void;
    const ownerStarted = new Promise<void>((resolve) => (started = resolve));
    const whole = readBlob(`${owner!.url}${path}`, started);
    await ownerStarted;
    const ranged = await fetch(`${other!.url}${path}`, { headers: { range: `bytes=${size - 1000}-` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${size - 1000}-${size - 1}/${size}`);
    expect((await ranged.arrayBuffer()).byteLength).toBe(1000);
    const unsatisfiable = await fetch(`${other!.url}${path}`, { headers: { range: `bytes=${size}-` } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${size}`);
    expect((await whole).digest).toBe(layer.digest);
    expect(cdn(hub)).toHaveLength(1);
  }, 30_000);

  it('the peer endpoint is closed to clients: without the cluster secret it does not exist', async () => {
    const layer = hub.addImage('library/secretive', 'v1', { layerCount: 1, layerSize: 1000 }).layers[0]!;
    const [replica] = cluster.replicas;
    expect((await readBlob(`${replica!.url}/v2/library/secretive/blobs/${layer.digest}`)).digest).toBe(layer.digest);
    const path = `/_stowage/cluster/fills/${layer.digest}`;
    const refusedBefore = await metricValue(replica!.url, 'stowage_cluster_peer_refused_total');
    const attempts: Array<Record<string, string>> = [
      {},
      { 'x-stowage-peer': 'garbage' },
      { 'x-stowage-peer': new PeerSignature('a different secret, not this cluster').sign('GET', path) },
      // A signature for another path does not open this one.
      { 'x-stowage-peer': new PeerSignature(cluster.secret).sign('GET', '/_stowage/cluster/fills/sha256:' + '0'.repeat(64)) },
    ];
    for (const headers of attempts) {
      const response = await fetch(`${replica!.url}${path}`, { headers });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('UNSUPPORTED');
    }
    // As unknown as a path that does not exist at all.
    const unknown = await fetch(`${replica!.url}/_stowage/cluster/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await metricValue(replica!.url, 'stowage_cluster_peer_refused_total')).toBe(refusedBefore + attempts.length);
    // The same request signed with the cluster's secret is served.
    const signed = await fetch(`${replica!.url}${path}`, { headers: { 'x-stowage-peer': new PeerSignature(cluster.secret).sign('GET', path) } });
    expect(signed.status).toBe(200);
    expect(Buffer.from(await signed.arrayBuffer()).length).toBe(1000);
  });
});
