import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
// Compiled inside the repository so `dist` resolves node_modules like `npm start` does.
const OUT = join(ROOT, '.test-dist', `cli-${process.pid}`);

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(OUT, 'main.js'), ...args], { env: { PATH: process.env.PATH, ...env }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

describe('the stowage command', () => {
  let work: string;
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', OUT], { timeout: 120_000 });
    work = await mkdtemp(join(tmpdir(), 'stowage-cli-'));
  }, 150_000);
  afterAll(async () => {
    await rm(OUT, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('refuses an invalid setting with exit code 2 and a message naming the key', async () => {
    const result = await run([], { STOWAGE_SERVER_PORT: 'eighty', STOWAGE_STORAGE_PATH: join(work, 'data-invalid') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('server.port');
    expect(result.stderr).toContain('"eighty"');
  });

  /**
   * Starts `stowage --config` with `lines` (a `${STOWAGE_TEST_PORT}` port and an upstream whose
   * password is the secret `${UPSTREAM_SECRET}`), sends a request with Basic credentials and a pull
   * that reaches the (unreachable) upstream with the configured credentials, stops it with SIGTERM
   * (exit 0 expected) and returns everything it wrote.
   */
  async function serveOnce(name: string, lines: string[]): Promise<string> {
    const port = await freePort();
    const file = join(work, `${name}.yaml`);
    await writeFile(file, lines.join('\n'));
    const child = spawn(process.execPath, [join(OUT, 'main.js'), '--config', file], {
      env: { PATH: process.env.PATH, STOWAGE_TEST_PORT: String(port), UPSTREAM_SECRET: 'hunter2-secret' },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    try {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = await fetch(`http://127.0.0.1:${port}/v2/`, { headers: { authorization: 'Basic cm9ib3Q6aHVudGVyMg==' } })
          .then((r) => r.status === 200)
          .catch(() => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect(up, output).toBe(true);
      const failed = await fetch(`http://127.0.0.1:${port}/v2/library/x/manifests/latest`);
      expect(failed.status).toBe(502);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    return output;
  }

  const serverLines = (name: string): string[] => [
    'server:',
    '  host: 127.0.0.1',
    '  port: ${STOWAGE_TEST_PORT}',
    `storage: { path: ${join(work, `data-${name}`)} }`,
    'upstreams:',
    '  docker.io: { url: "http://127.0.0.1:9", username: robot, password: "${UPSTREAM_SECRET}", retries: 0 }',
  ];

  it('starts from --config, serves, logs JSON without credentials, and exits 0 on SIGTERM', async () => {
    const output = await serveOnce('json', serverLines('json'));
    const lines = output.trim().split('\n');
    expect(lines.every((line) => line.startsWith('{'))).toBe(true);
    expect(output).toContain('"msg":"stopped"');
    expect(output).not.toContain('hunter2-secret');
    expect(output).not.toContain('cm9ib3Q6aHVudGVyMg');
  }, 60_000);

  it('log.format: pretty writes lines for a person (time, level, message, key=value), still without credentials', async () => {
    const output = await serveOnce('pretty', [...serverLines('pretty'), 'log: { format: pretty }']);
    const lines = output.trim().split('\n');
    const entry = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/;
    // Every line is an entry, or an indented line of an error's stack under one.
    expect(lines.filter((line) => !entry.test(line) && !line.startsWith('    ')), output).toEqual([]);
    expect(lines.some((line) => line.startsWith('{'))).toBe(false);
    expect(output).toMatch(/INFO  request completed .*res\.statusCode=200/);
    expect(output).toMatch(/INFO  stopped\n/);
    expect(output).not.toContain('hunter2-secret');
    expect(output).not.toContain('cm9ib3Q6aHVudGVyMg');
  }, 60_000);

  it('refuses a log.format other than json or pretty', async () => {
    const result = await run([], { STOWAGE_LOG_FORMAT: 'xml', STOWAGE_STORAGE_PATH: join(work, 'data-xml') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('log.format');
  });

  it('prefetch: a client of a running server — plain progress lines in a pipe, exit 0 when fetched, 1 when not', async () => {
    const { startFakeHub } = await import('../support/fake-hub.js');
    const { startStowage } = await import('../support/stowage.js');
    const hub = await startFakeHub();
    hub.addImage('library/alpine', '3.20', { layerCount: 1, layerSize: 20_000 });
    const stowage = await startStowage({ config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io', prefetch: { interval: 0 } } });
    try {
      const fetched = await run(['prefetch', '--url', stowage.url, 'docker.io/library/alpine:3.20']);
      expect(fetched.stderr).toBe('');
      expect(fetched.stdout).toMatch(/^done docker\.io\/library\/alpine:3\.20: /m);
      expect(fetched.code).toBe(0);
      const missing = await run(['prefetch', '--url', stowage.url, 'docker.io/library/missing:1']);
      expect(missing.stdout).toMatch(/^failed docker\.io\/library\/missing:1: /m);
      expect(missing.code).toBe(1);
    } finally {
      await stowage.close();
      await hub.close();
    }
  }, 60_000);
});
