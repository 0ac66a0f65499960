/**
 * `npm run bench`: Stowage and the reference registry (distribution 2.8 in proxy mode) side by side
 * on one machine, in one run, against the same Docker-Hub-like upstream. See docs/benchmarks.md for
 * what each figure means and how it is measured.
 *
 *   node node_modules/.cache/stowage-bench/bench/run.js [--quick] [--only 1,2,3,4,6,7,8,9,10,11] [--log-level warn]
 *     [--blobs 100000] [--startup-dir DIR] [--stowage-dist DIR] [--strict]
 *
 * Topology (all on 127.0.0.1):
 *
 *   docker-registry (plain, seeded) ◀── fake hub process (token auth, 307 → fake CDN) ◀── subject ◀── client
 *                                                                                 Stowage | reference proxy
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../test/support/processes.js';
import { parseOptions, type Bench, type Kind } from './context.js';
import { authFigure } from './figures/auth-overhead.js';
import { clusterFigure } from './figures/cluster-fill.js';
import { coldFigures, warmFigure } from './figures/blob-transfers.js';
import { apiFigure } from './figures/api-browse.js';
import { linkSpeedFigure } from './figures/cold-at-link-speed.js';
import { concurrentFigure } from './figures/concurrent-gets.js';
import { gcFigure } from './figures/gc.js';
import { manifestFigure } from './figures/manifest-load.js';
import { pushFigure } from './figures/push.js';
import { s3Figure } from './figures/s3-transfers.js';
import { startupFigure } from './figures/startup.js';
import { markdownTable, textTable, type Row } from './report.js';
import { seedImages } from './seed.js';
import { REPO_ROOT, startHub, startReference, startStowage, type Server } from './subjects.js';
import { ensureTools } from './tools.js';

const argv = process.argv.slice(2);
const stowageDist = argv.indexOf('--stowage-dist');
if (stowageDist >= 0 && argv[stowageDist + 1]) process.env.STOWAGE_BENCH_DIST = argv[stowageDist + 1];
const options = parseOptions(argv);

const began = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
};
const rows: Row[] = [];

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}`;
}

/** The 1-minute load average, sampled at start and end: other work on the machine skews every figure. */
const loadSamples: number[] = [];
function sampleLoad(when: string): void {
  const load = loadavg()[0] ?? 0;
  loadSamples.push(load);
  if (load > cpus().length * 0.5) log(`warning: load average ${load.toFixed(2)} ${when} — other work is running; figures will be noisy`);
}

async function main(): Promise<void> {
  await ensureTools(log);
  const work = await tempDir('bench');
  log(`machine: ${machine()}`);
  sampleLoad('at start');
  const backend = await startReference();
  log('seeding the upstream registry (small image, 300 MB image, multi-platform index)');
  const images = await seedImages(backend.url, work.path);
  const hub = await startHub(backend.url);
  log(`upstream: docker-registry ${backend.url} behind fake hub ${hub.url} (CDN ${hub.cdnUrl})`);
  const ctx: Bench = {
    options,
    hub,
    images,
    startSubject: (kind: Kind) =>
      kind === 'stowage' ? startStowage({ upstreamUrl: hub.url, logLevel: options.logLevel }) : startReference({ remoteUrl: hub.url }),
    log,
    rows,
    raw: {},
  };
  // A figure that fails is reported as a failed row; the others still run.
  const attempt = async (figure: string, task: () => Promise<void>): Promise<void> => {
    try {
      await task();
    } catch (error) {
      log(`figure ${figure} failed: ${(error as Error).stack ?? String(error)}`);
      rows.push({ figure: `${figure}. (error)`, stowage: (error as Error).message.split('\n')[0]!.slice(0, 80), reference: '', ratio: '', target: '', pass: false });
    }
  };
  const { only } = options;
  try {
    let warm: Record<Kind, Server> | null = null;
    if (only.has('1') || only.has('2') || only.has('10')) {
      await attempt('2', async () => {
        warm = await coldFigures(ctx, [hub.pid, backend.pid]);
      });
    }
    const servers = warm as Record<Kind, Server> | null;
    if (servers && only.has('1')) await attempt('1', () => warmFigure(ctx, servers));
    if (servers && only.has('2')) await attempt('2f', () => linkSpeedFigure(ctx, servers));
    if (servers && only.has('10')) await attempt('10', () => s3Figure(ctx, servers.reference));
    if (servers) await Promise.all(Object.values(servers).map((s) => s.close()));
    if (only.has('4')) await attempt('4', () => manifestFigure(ctx));
    if (only.has('3')) await attempt('3', () => concurrentFigure(ctx));
    if (only.has('6')) await attempt('6', () => pushFigure(ctx));
    if (only.has('8')) await attempt('8', () => authFigure(ctx));
    if (only.has('9')) await attempt('9', () => apiFigure(ctx));
    if (only.has('11')) await attempt('11', () => clusterFigure(ctx));
    // tmpfs by default: writing 200,000+ files on this VM's ext4 takes minutes (see docs/benchmarks.md).
    const inScratchDir = async (name: string, figure: (dir: string) => Promise<void>): Promise<void> => {
      const parent = options.startupDir ?? (existsSync('/dev/shm') ? '/dev/shm' : work.path);
      const dir = await mkdtemp(join(parent, `stowage-bench-${name}-`));
      try {
        await figure(dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    };
    if (only.has('12')) await inScratchDir('gc', (dir) => attempt('12', () => gcFigure(ctx, dir)));
    if (only.has('7')) await inScratchDir('startup', (dir) => attempt('7', () => startupFigure(ctx, dir)));
  } finally {
    await hub.close();
    await backend.close();
    await work.remove();
  }
  sampleLoad('at the end');
  const seconds = (performance.now() - began) / 1000;
  const loads = `load average at start / end: ${loadSamples.map((l) => l.toFixed(2)).join(' / ')}`;
  rows.sort((a, b) => a.figure.localeCompare(b.figure, 'en', { numeric: true }));
  process.stdout.write(`\n${machine()}; ${loads}\n\n${textTable(rows)}\n\nwhole run: ${seconds.toFixed(0)} s\n`);
  const out = join(REPO_ROOT, 'node_modules', '.cache', 'stowage-bench');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'last-run.json'), JSON.stringify({ machine: machine(), load: loadSamples, seconds, rows, raw: ctx.raw }, null, 2));
  await writeFile(join(out, 'last-run.md'), `${machine()}; ${loads}\n\n${markdownTable(rows)}\n\nwhole run: ${seconds.toFixed(0)} s\n`);
  log(`results: ${join(out, 'last-run.json')} and last-run.md`);
}

main().then(
  // --strict: a missed target fails the command (for CI); by default the table is the result.
  () => process.exit(options.strict && rows.some((r) => r.pass === false) ? 1 : 0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
