/**
 * `stowage prefetch` against a real server: the command's own code, run in this process with its
 * output captured (a terminal or a pipe), talking HTTP to a Stowage in front of a fake hub. The
 * compiled binary's dispatch to it is covered in test/ops/cli.test.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefetchCommand } from '../../src/cli/prefetch-command.js';
import { ProgressView } from '../../src/cli/progress-view.js';
import { writeHtpasswd } from '../support/auth.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startPrefetchFixture, type PrefetchFixture } from './support/prefetch-fixture.js';

class Captured {
  text = '';
  constructor(readonly isTTY: boolean) {}
  readonly columns = 120;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function run(args: string[], options: { tty: boolean; env?: NodeJS.ProcessEnv }) {
  const stdout = new Captured(options.tty);
  const stderr = new Captured(false);
  const code = await prefetchCommand(args, { stdout, stderr, env: options.env ?? {}, pollMs: 20 });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('stowage prefetch', () => {
  let f: PrefetchFixture;
  beforeAll(async () => {
    f = await startPrefetchFixture((hub) => {
      hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 200_000 });
      hub.addImage('library/redis', '7', { layerCount: 1, layerSize: 50_000 });
      return { images: [{ ref: 'docker.io/library/alpine:3.20' }] };
    });
  });
  afterAll(() => f.close());

  it('on a terminal: a live bar per image, redrawn in place, and exit 0 when all were fetched', async () => {
    f.hub.faults.bandwidth = 400_000; // ~1 s: many frames, some with a rate for the ETA even on a loaded machine
    const result = await run(['--url', f.stowage.url], { tty: true });
    f.hub.faults.clear();
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('\x1b[1F'); // back up over the previous frame
    expect(result.stdout).toMatch(/docker\.io\/library\/alpine:3\.20 +\[#{24}\] 400 KB \/ 400 KB +done/);
    // A frame mid-way, with an ETA (hours while the first bytes crawl in on a loaded machine).
    expect(result.stdout).toMatch(/\[[#.]*\.+\] [\d.]+ k?B \/ 400 KB +ETA (\d+ h )?[\d.]+ (s|min)/);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('1 image: 1 fetched');
  });

  it('in a pipe: plain lines as images start and end, no escape codes; REFs choose what is fetched', async () => {
    const result = await run(['--url', f.stowage.url, 'docker.io/library/redis:7'], { tty: false });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('\x1b');
    expect(result.stdout).toMatch(/^fetching docker\.io\/library\/redis:7$/m);
    expect(result.stdout).toMatch(/^done docker\.io\/library\/redis:7: 50 KB in [\d.]+ s$/m);
    expect(result.stdout).not.toContain('alpine');
  });

  it('exits 1 and says why when an image could not be fetched', async () => {
    const result = await run(['--url', f.stowage.url, 'docker.io/library/redis:7', 'docker.io/library/nothere:1'], { tty: false });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^failed docker\.io\/library\/nothere:1: manifest unknown/m);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('2 images: 1 fetched, 1 not');
  });

  it('exits 1 with a message when Stowage cannot be reached or refuses, 2 on bad usage', async () => {
    const unreachable = await run(['--url', 'http://127.0.0.1:9'], { tty: false });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach Stowage at http:\/\/127\.0\.0\.1:9/);
    const refused = await run(['--url', f.stowage.url, 'team/app:1'], { tty: false });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/answered 400: .*not an image of a configured upstream/);
    const usage = await run(['--bogus'], { tty: false });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: stowage prefetch');
  });
});

describe.runIf(requireTool('htpasswd'))('stowage prefetch with access control', () => {
  let f: PrefetchFixture;
  let work: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    work = await tempDir('prefetch-cli-auth');
    const htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { admin: 'admin-pw', alice: 'alice-pw' });
    f = await startPrefetchFixture(
      (hub) => {
        hub.addImage('library/alpine', '3.20', { layerCount: 1 });
        return { images: [{ ref: 'docker.io/library/alpine:3.20' }] };
      },
      { config: { auth: { htpasswd, admins: ['admin'], access: [] } } },
    );
  });
  afterAll(async () => {
    await f.close();
    await work.remove();
  });

  it('needs an admin: --user, or STOWAGE_USER and STOWAGE_PASSWORD', async () => {
    expect((await run(['--url', f.stowage.url], { tty: false })).stderr).toMatch(/answered 401/);
    expect((await run(['--url', f.stowage.url, '--user', 'alice:alice-pw'], { tty: false })).stderr).toMatch(/answered 403/);
    expect((await run(['--url', f.stowage.url, '--user', 'admin:admin-pw'], { tty: false })).code).toBe(0);
    const env = { STOWAGE_URL: f.stowage.url, STOWAGE_USER: 'admin', STOWAGE_PASSWORD: 'admin-pw' };
    expect((await run([], { tty: false, env })).code).toBe(0);
  });
});

describe('the plain progress log', () => {
  it('gives an image that started and ended between two polls its start line too', () => {
    let text = '';
    const view = new ProgressView({ write: (t: string) => (text += t), isTTY: false }, () => 1_000);
    const image = { ref: 'docker.io/library/redis:7', bytesTotal: 50_000, bytesDone: 0, error: null };
    view.update([{ ...image, state: 'pending' }]);
    view.update([{ ...image, state: 'done', bytesDone: 50_000 }]);
    expect(text).toBe('fetching docker.io/library/redis:7\ndone docker.io/library/redis:7: 50 KB in 0.0 s\n');
  });
});
