/**
 * What makes password checking cheap for users and expensive for guessers: an unknown user costs
 * the bcrypt a wrong password costs (a dummy hash), a verified header is remembered so a pull of
 * many blobs runs bcrypt once, and repeated failures from one address are slowed and counted.
 * Times here are lower bounds or ratios with wide margins (a loaded machine only makes bcrypt
 * slower, which these comparisons absorb).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from '../metrics/exposition.js';
import { AuthorizedClient, basic, htpasswdLine } from '../support/auth.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { writeFile } from 'node:fs/promises';

describe.runIf(requireTool('htpasswd'))('password checks', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let stowage: RunningStowage;
  const clients: AuthorizedClient[] = [];
  const as = (authorization?: string): AuthorizedClient => {
    const client = new AuthorizedClient(stowage.url, authorization);
    clients.push(client);
    return client;
  };
  const timed = async (client: AuthorizedClient): Promise<{ status: number; ms: number }> => {
    const started = performance.now();
    const response = await client.fetch('/v2/');
    await response.arrayBuffer();
    return { status: response.status, ms: performance.now() - started };
  };

  beforeAll(async () => {
    work = await tempDir('auth-credentials');
    const htpasswd = join(work.path, 'htpasswd');
    // Cost 12: one check takes ~0.25 s in bcryptjs, far above request overhead.
    await writeFile(htpasswd, `${await htpasswdLine('slow', 'slow-pw', 12)}\n${await htpasswdLine('admin', 'admin-pw')}\n`);
    stowage = await startStowage({ config: { auth: { htpasswd, admins: ['admin'], access: [{ repos: ['**'], users: ['*'], actions: ['pull'] }] } } });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stowage?.close();
    await work?.remove();
  });

  it('an unknown user takes as long as a wrong password (bcrypt runs against a dummy hash of the same cost)', async () => {
    const wrong = await timed(as(basic('slow', 'not-it')));
    const unknown = await timed(as(basic('nobody', 'not-it')));
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.ms).toBeGreaterThan(100);
    expect(unknown.ms).toBeGreaterThan(wrong.ms / 3);
  });

  it('a verified header is remembered: 20 more requests cost less than 5 bcrypt runs', async () => {
    const client = as(basic('slow', 'slow-pw'));
    const first = await timed(client);
    expect(first.status).toBe(200);
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const next = await timed(client);
      expect(next.status).toBe(200);
      total += next.ms;
    }
    expect(total).toBeLessThan(first.ms * 5);
  });

  it('after 5 failures from an address its checks are delayed, counted in stowage_auth_throttled_total', async () => {
    const metrics = async () => parseExposition(await (await as(basic('admin', 'admin-pw')).fetch('/metrics')).text());
    const before = await metrics();
    const guesser = as(basic('admin', 'guess'));
    for (let i = 0; i < 5; i++) expect((await timed(guesser)).status).toBe(401);
    const slowed = await timed(as(basic('admin', 'another-guess')));
    expect(slowed.status).toBe(401);
    expect(slowed.ms).toBeGreaterThanOrEqual(95);
    const after = await metrics();
    expect(after.value('stowage_auth_throttled_total')! - before.value('stowage_auth_throttled_total')!).toBeGreaterThanOrEqual(1);
    expect(after.value('stowage_auth_failures_total', { kind: 'password' })! - before.value('stowage_auth_failures_total', { kind: 'password' })!).toBe(6);
    // A remembered success is not an attempt: the admin's next scrape was not slowed.
    const scrape = performance.now();
    await metrics();
    expect(performance.now() - scrape).toBeLessThan(slowed.ms + 1000);
  });
});
