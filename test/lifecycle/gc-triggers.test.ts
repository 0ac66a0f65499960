/**
 * How a GC run is started and what an operator sees of it: POST /api/v1/gc and /v2/_gc for admins
 * only, gc.interval, the report in GET /api/v1/gc and /api/v1/stats, the metrics, the log line.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, expectOciError } from '../http/registry-client.js';
import { scrape } from '../metrics/exposition.js';
import { AuthorizedClient, basic, writeHtpasswd } from '../support/auth.js';
import { requireTool, tempDir, waitFor } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { ManualClock } from '../storage/contracts/support.js';
import { HOUR } from './support/hosted-fixture.js';

describe.runIf(requireTool('htpasswd'))('GC triggers with access control', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let stowage: RunningStowage;
  const clock = new ManualClock(Date.now());
  const logs: string[] = [];
  let admin: AuthorizedClient;
  let alice: AuthorizedClient;
  let anonymous: AuthorizedClient;
  const api = (client: AuthorizedClient, path: string, method = 'GET') =>
    fetch(`${stowage.url}/api/v1/${path}`, { method, headers: { 'X-Stowage-CSRF': '1', ...(client.authorization ? { authorization: client.authorization } : {}) } });

  beforeAll(async () => {
    work = await tempDir('gc-triggers');
    const htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', admin: 'admin-pw' });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    stowage = await startStowage({
      config: { hosted: ['team/**'], auth: { htpasswd, admins: ['admin'], access: [{ repos: ['team/**'], users: ['alice'], actions: ['*'] }] } },
      app: { now: clock.now, logger: pino({ level: 'info' }, sink) },
    });
    admin = new AuthorizedClient(stowage.url, basic('admin', 'admin-pw'));
    alice = new AuthorizedClient(stowage.url, basic('alice', 'alice-pw'));
    anonymous = new AuthorizedClient(stowage.url, undefined);
  });
  afterAll(async () => {
    await Promise.all([admin, alice, anonymous].map((c) => c.close()));
    await stowage.close();
    await work.remove();
  });

  it('only admins run it: /v2/_gc and POST /api/v1/gc answer 401 anonymous, 403 others', async () => {
    const challenged = await anonymous.fetch('/v2/_gc', { method: 'POST' });
    expect(challenged.headers.get('www-authenticate')).toMatch(/^Basic /);
    await expectOciError(challenged, 401, 'UNAUTHORIZED');
    await expectOciError(await alice.fetch('/v2/_gc', { method: 'POST' }), 403, 'DENIED');
    await expectOciError(await alice.fetch('/v2/team/app/_gc', { method: 'POST' }), 403, 'DENIED');
    await expectOciError(await api(alice, 'gc', 'POST'), 403, 'DENIED');
    await expectOciError(await api(anonymous, 'gc', 'POST'), 401, 'UNAUTHORIZED');
    await expectOciError(await api(alice, 'gc'), 403, 'DENIED');
    const wrongMethod = await admin.fetch('/v2/_gc');
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    await expectOciError(wrongMethod, 405, 'UNSUPPORTED');
    await expectOciError(await api(admin, 'gc?dryRun=maybe', 'POST'), 400, 'UNSUPPORTED');
  });

  it('reports the run: the response, GET /api/v1/gc, the stats page, the metrics and the log', async () => {
    const orphan = bytesOf('trigger orphan', 7000);
    await alice.pushBlob('team/app', orphan);
    clock.advance(2 * HOUR);
    const res = await admin.fetch('/v2/_gc', { method: 'POST' });
    const report = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(report).toMatchObject({ dryRun: false, repository: null, blobsRemoved: 1, bytesReclaimed: 7000, linksRemoved: 1 });
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));

    const status = (await (await api(admin, 'gc')).json()) as any;
    expect(status).toMatchObject({ running: false, last: { blobsRemoved: 1, bytesReclaimed: 7000 } });
    const stats = (await (await api(alice, 'stats')).json()) as any;
    expect(stats.gc).toMatchObject({ running: false, last: { blobsRemoved: 1, bytesReclaimed: 7000, durationMs: report.durationMs } });

    const metrics = await scrape(stowage.url);
    expect(metrics.value('stowage_gc_runs_total', { mode: 'delete', outcome: 'completed' })).toBe(1);
    expect(metrics.value('stowage_gc_runs_total', { mode: 'dry_run', outcome: 'completed' })).toBe(0);
    expect(metrics.value('stowage_gc_reclaimed_bytes_total')).toBe(7000);
    expect(metrics.value('stowage_gc_removed_blobs_total')).toBe(1);
    expect(metrics.value('stowage_gc_last_run_timestamp_seconds')).toBe(Date.parse(report.finishedAt) / 1000);

    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'garbage collection done');
    expect(line).toMatchObject({ blobsRemoved: 1, bytesReclaimed: 7000, durationMs: report.durationMs });
  });
});

describe('gc.interval', () => {
  it('starts runs by itself', async () => {
    const stowage = await startStowage({ config: { gc: { interval: '100ms' } } });
    try {
      await waitFor(async () => {
        const stats = (await (await fetch(`${stowage.url}/api/v1/stats`)).json()) as any;
        return stats.gc.last !== null;
      }, { timeoutMs: 10_000, description: 'a scheduled GC run' });
    } finally {
      await stowage.close();
    }
  });
});
