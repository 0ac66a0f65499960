import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bytesOf } from '../http/registry-client.js';
import { expectComplete, HOUR, makeImage, pushLikeDocker, random, startHostedFixture, type HostedFixture } from './support/hosted-fixture.js';

// On the object store (the s3 project) a round takes ~3 s instead of ~0.1 s: fewer rounds there.
const ROUNDS = Number(process.env.GC_RACE_ROUNDS ?? (inject('s3Store') ? 12 : 40));

describe('a push racing garbage collection', () => {
  let f: HostedFixture;
  beforeAll(async () => {
    f = await startHostedFixture();
  });
  afterAll(() => f.close());

  it('always ends with a complete image, whatever the timing (many rounds, randomized)', async () => {
    const seed = Number(process.env.GC_RACE_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    // Layers of earlier rounds' images, deleted since and out of their grace period: GC candidates
    // that this round's push finds with a HEAD and does not upload again (the classic race).
    let leftovers: Buffer[] = [];
    let removed = 0;
    let spared = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const reused = leftovers.filter(() => next() < 0.7);
      const fresh = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, i) => bytesOf(`seed ${seed} round ${round} layer ${i}`, 1000 + Math.floor(next() * 50_000)));
      const image = makeImage(`seed ${seed} round ${round}`, [...reused, ...fresh]);
      const gcAfter = next() * 25;
      const [push, report] = await Promise.all([
        pushLikeDocker(f.client, 'team/race', `r${round}`, image).then(async (res) => ({ status: res.status, body: await res.text() })),
        sleep(gcAfter).then(() => f.gc()),
      ]);
      expect(push, `seed ${seed}, round ${round}, GC after ${gcAfter.toFixed(1)} ms`).toMatchObject({ status: 201 });
      await expectComplete(f.client, 'team/race', `r${round}`, image);
      removed += report.blobsRemoved;
      spared += report.spared;

      // The image goes again: its blobs are the next rounds' candidates once the clock moves on.
      expect((await f.client.fetch(`/v2/team/race/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
      leftovers = [...image.layers, image.config].slice(-6);
      f.clock.advance(2 * HOUR);
    }
    // The runs did delete while pushes went on (the race was real), and pushes never lost a blob.
    expect(removed, `seed ${seed}`).toBeGreaterThan(ROUNDS / 2);
    expect(spared + removed).toBeGreaterThan(0);
  }, 150_000);
});
