import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { expectUpstreamError, readAll, UpstreamFixture } from './upstream-fixture.js';

const fixture = new UpstreamFixture();
const hubs: FakeHub[] = [];

afterEach(async () => {
  await fixture.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => lines.join('') };
}

describe('logging', () => {
  it('never logs passwords, tokens, Authorization values or signed URL queries', async () => {
    const fake = await startFakeHub({ auth: { username: 'alice', password: 'pa55-word' }, cdn: true });
    hubs.push(fake);
    const image = fake.addImage('team/app', 'v1', { layerSize: 100_000 });
    const { logger, text } = capturingLogger();
    const { upstream } = fixture.create(fake.url, { username: 'alice', password: 'pa55-word' }, { logger });

    fake.faults.fail('manifest', { status: 503 });
    await upstream.getManifest('team/app', 'v1');
    fake.faults.fail('cdn', { status: 503 });
    fake.faults.cutBody({ afterBytes: 5_000 });
    const blob = await upstream.getBlob('team/app', image.layers[0]!.digest);
    await readAll(blob.body);
    await expectUpstreamError(upstream.getManifest('team/app', 'missing'), 'not-found');

    const log = text();
    expect(log).toContain('retrying'); // the test did exercise the logging paths
    expect(log).toContain('resuming');
    expect(log).not.toContain('pa55-word');
    expect(log).not.toContain(Buffer.from('alice:pa55-word').toString('base64'));
    expect(log).not.toMatch(/fh_[0-9a-f]{32}/); // fake hub tokens
    expect(log).not.toContain('sig=');
    expect(log.toLowerCase()).not.toContain('bearer ');
  });

  it('keeps secrets out of error messages', async () => {
    const fake = await startFakeHub({ auth: { username: 'alice', password: 'pa55-word' } });
    hubs.push(fake);
    fake.addBlob('team/app', randomBytes(10));
    const { upstream } = fixture.create(fake.url, { username: 'alice', password: 'wrong-pa55' });

    const error = await expectUpstreamError(upstream.getManifest('team/app', 'v1'), 'unauthorized');
    expect(`${error.message} ${String(error.cause ?? '')}`).not.toContain('wrong-pa55');
  });
});
