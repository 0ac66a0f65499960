/**
 * The real peers the scale-out tests and benchmarks start (test/support/ceph-rgw.ts, redis-server.ts,
 * nginx.ts) come up on loopback, answer as the real thing, and go away by PID.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { CEPH_TOOLS, startCephRgw } from '../support/ceph-rgw.js';
import { startNginx } from '../support/nginx.js';
import { requireTool } from '../support/processes.js';
import { redisAnswers, startRedis } from '../support/redis-server.js';

const hasCeph = CEPH_TOOLS.every((tool) => requireTool(tool));

describe.skipIf(!hasCeph)('Ceph RGW', () => {
  it('serves the S3 API: anonymous listing answers, an unsigned bucket creation is refused', { timeout: 120_000 }, async () => {
    const rgw = await startCephRgw({ memoryBytes: 256 * 1024 ** 2 });
    try {
      const listing = await fetch(`${rgw.endpoint}/`);
      expect(listing.status).toBe(200);
      expect(await listing.text()).toContain('ListAllMyBucketsResult');
      const create = await fetch(`${rgw.endpoint}/unsigned-bucket`, { method: 'PUT' });
      expect(create.status).toBe(403);
      expect(await create.text()).toContain('AccessDenied');
    } finally {
      await rgw.stop();
    }
    expect(() => process.kill(rgw.pids.rgw, 0)).toThrow();
  });
});

describe.skipIf(!requireTool('redis-server'))('Redis', () => {
  it('answers PING, stops answering while paused, and again after resume', async () => {
    const redis = await startRedis();
    try {
      expect(await redisAnswers(redis.port)).toBe(true);
      redis.pause();
      expect(await redisAnswers(redis.port)).toBe(false);
      redis.resume();
      expect(await redisAnswers(redis.port)).toBe(true);
    } finally {
      await redis.stop();
    }
    expect(await redisAnswers(redis.port)).toBe(false);
  });
});

describe.skipIf(!requireTool('nginx'))('nginx', () => {
  const backends: Server[] = [];
  afterAll(() => Promise.all(backends.map((s) => new Promise((resolve) => s.close(resolve)))));

  it('spreads requests round robin and streams request bodies without a Content-Length', async () => {
    const urls: string[] = [];
    for (const name of ['a', 'b']) {
      const server = createServer((req, res) => {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () => res.end(`${name}:${bytes}:${req.headers['x-forwarded-for'] ?? ''}`));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      backends.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      urls.push(`http://127.0.0.1:${address.port}`);
    }
    const nginx = await startNginx({ upstreams: urls });
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await (await fetch(`${nginx.url}/x`)).text()).split(':')[0]!);
      expect([...seen].sort()).toEqual(['a', 'b']);
      // A chunked body of 3 MiB (nginx's default limit is 1 MiB) reaches the backend whole.
      const body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 3; i++) controller.enqueue(new Uint8Array(1024 * 1024));
          controller.close();
        },
      });
      const answer = await (await fetch(`${nginx.url}/upload`, { method: 'PATCH', body, duplex: 'half' } as RequestInit)).text();
      expect(answer).toMatch(/^[ab]:3145728:127\.0\.0\.1$/);
    } finally {
      await nginx.stop();
    }
  });
});
