/** Figure 8: what access control costs the hot path — manifest GET by tag with credentials. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { tempDir } from '../../test/support/processes.js';
import { getJson, getStatus, wrk, type LoadResult } from '../clients.js';
import { MANIFEST_ACCEPT, type Bench } from '../context.js';
import { fmt, median } from '../report.js';
import { startStowage, type Server } from '../subjects.js';

type Variant = 'open' | 'basic' | 'bearer';
const VARIANTS: Variant[] = ['open', 'basic', 'bearer'];

/**
 * Two Stowage processes with warm caches: one open, one in Bearer mode (which also accepts Basic
 * credentials on every request). wrk at 50 connections sends the same manifest GET by tag with no
 * credentials (open), `Authorization: Basic` (bcrypt once, then the verdict cache) and
 * `Authorization: Bearer <token>` (one signature check, then the verified-token cache), rounds
 * interleaved so drift hits all three alike; the median round per variant is reported. The user's
 * entry has cost 10 (`htpasswd -B -C 10`), a realistic production cost.
 */
export async function authFigure(ctx: Bench): Promise<void> {
  const work = await tempDir('bench-auth');
  const htpasswd = join(work.path, 'htpasswd');
  await writeFile(htpasswd, `bench:${bcrypt.hashSync('bench-password', 10).replace(/^\$2b\$/, '$2y$')}\n`);
  const auth = { htpasswd, token: {}, access: [{ repos: ['**'], users: ['*'], actions: ['pull'] }] };
  const servers: Record<'open' | 'auth', Server | null> = { open: null, auth: null };
  try {
    servers.open = await ctx.startSubject('stowage');
    servers.auth = await startStowage({ upstreamUrl: ctx.hub.url, logLevel: ctx.options.logLevel, auth });
    const { repository, tag } = ctx.images.small;
    const path = `/v2/${repository}/manifests/${tag}`;
    const basic = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`;
    const { token } = await getJson<{ token: string }>(`${servers.auth.url}/auth/token?service=Stowage&scope=repository:${repository}:pull`, { authorization: basic });
    const requests: Record<Variant, { url: string; headers: Record<string, string> }> = {
      open: { url: `${servers.open.url}${path}`, headers: { accept: MANIFEST_ACCEPT } },
      basic: { url: `${servers.auth.url}${path}`, headers: { accept: MANIFEST_ACCEPT, authorization: basic } },
      bearer: { url: `${servers.auth.url}${path}`, headers: { accept: MANIFEST_ACCEPT, authorization: `Bearer ${token}` } },
    };
    for (const variant of VARIANTS) {
      const answer = await getStatus(requests[variant].url, requests[variant].headers);
      if (answer.status !== 200) throw new Error(`${variant}: manifest GET answered ${answer.status}`);
    }
    // JIT warm-up; not counted.
    for (const variant of VARIANTS) await wrk(requests[variant].url, { connections: 50, seconds: 2, headers: requests[variant].headers });
    const runs: Record<Variant, LoadResult[]> = { open: [], basic: [], bearer: [] };
    const rounds = ctx.options.rounds.warm >= 5 ? 3 : 2;
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const variant of order) {
        const load = await wrk(requests[variant].url, { connections: 50, seconds: ctx.options.wrkSeconds, headers: requests[variant].headers });
        runs[variant].push(load);
        ctx.log(`auth ${variant} round ${round + 1}: ${fmt.n(load.requestsPerSecond)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, errors ${load.errors}`);
      }
    }
    const rps = (variant: Variant): number => median(runs[variant].map((r) => r.requestsPerSecond));
    const errors = (variant: Variant): number => runs[variant].reduce((sum, r) => sum + r.errors, 0);
    const p99 = (variant: Variant): number => median(runs[variant].map((r) => r.p99Ms));
    ctx.raw.auth = runs;
    for (const [letter, variant] of [['a', 'bearer'], ['b', 'basic']] as const) {
      const ratio = rps(variant) / rps('open');
      ctx.rows.push({
        figure: `8${letter}. manifest GET by tag, 50 conns, ${variant === 'bearer' ? 'Bearer token' : 'Basic credentials'} (req/s; reference column: open Stowage)`,
        stowage: `${fmt.n(rps(variant))} (p99 ${p99(variant)} ms)`,
        reference: `${fmt.n(rps('open'))} (p99 ${p99('open')} ms)`,
        ratio: fmt.ratio(rps(variant), rps('open')),
        target: '≥ 0.8× open',
        pass: ratio >= 0.8 && errors(variant) === 0 && errors('open') === 0,
      });
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s?.close()));
    await work.remove();
  }
}
