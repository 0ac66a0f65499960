/**
 * A real Prometheus server (Debian's /usr/bin/prometheus) scrapes a running Stowage every second:
 * the target is healthy, the documented hit-ratio query returns a value after hit traffic, and
 * every query shipped in docs/ (dashboard and metrics.md) is valid PromQL to Prometheus.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { answersHttp, freePort, requireTool, runChecked, startDaemon, tempDir, waitFor, type Daemon } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { dashboardQueries, documentedQueries, documentedYaml, substituteGrafanaVariables } from './promql-sources.js';

const HIT_RATIO = documentedQueries()[0]!.expr;

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe.skipIf(!requireTool('prometheus'))('a real Prometheus scraping Stowage', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  let prometheus: Daemon;
  let prometheusUrl: string;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
    stowage = await startStowage({ config: { upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io', hosted: ['team/**'] } });
    work = await tempDir('prometheus');
    const configFile = join(work.path, 'prometheus.yml');
    await writeFile(
      configFile,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: stowage',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ["${stowage.host}"]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = await startDaemon({
      name: 'prometheus',
      command: 'prometheus',
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(work.path, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      ready: () => answersHttp(`${prometheusUrl}/-/ready`, (status) => status === 200),
      readyTimeoutMs: 20_000,
    });
  }, 40_000);

  afterAll(async () => {
    await prometheus?.stop();
    await stowage?.close();
    await hub?.close();
    await work?.remove();
  });

  async function query(expr: string): Promise<QueryResponse> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await response.json()) as QueryResponse;
  }

  async function pull(repository: string, digests: string[]): Promise<void> {
    const manifest = await fetch(`${stowage.url}/v2/${repository}/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.status).toBe(200);
    await manifest.arrayBuffer();
    for (const digest of digests) {
      const blob = await fetch(`${stowage.url}/v2/${repository}/blobs/${digest}`);
      expect(blob.status).toBe(200);
      await blob.arrayBuffer();
    }
  }

  it('scrapes a healthy target and computes the documented hit ratio from hit traffic', async () => {
    const image = hub.addImage('library/alpine', 'latest', { layerCount: 2, layerSize: 10_000 });
    const digests = [image.config.digest, ...image.layers.map((l) => l.digest)];
    await pull('library/alpine', digests); // misses: now cached

    await waitFor(async () => (await query('up{job="stowage"}')).data?.result[0]?.value[1] === '1', {
      timeoutMs: 20_000,
      intervalMs: 250,
      description: 'Prometheus to scrape Stowage successfully',
      abortIf: () => (prometheus.exited ? `prometheus exited\n${prometheus.logTail()}` : undefined),
    });

    let ratio: number | undefined;
    await waitFor(
      async () => {
        await pull('library/alpine', digests); // hits
        const result = await query(HIT_RATIO);
        expect(result.status, result.error).toBe('success');
        const value = result.data?.result[0]?.value[1];
        ratio = value === undefined ? undefined : Number(value);
        return ratio !== undefined && ratio > 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'the hit-ratio query to return a value' },
    );
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);

    const targets = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as {
      data: { activeTargets: Array<{ health: string; lastError: string }> };
    };
    expect(targets.data.activeTargets).toEqual([expect.objectContaining({ health: 'up', lastError: '' })]);
  }, 50_000);

  it('accepts every query of the Grafana dashboard and docs/metrics.md', async () => {
    const queries = [...dashboardQueries(), ...documentedQueries()];
    expect(queries.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const { where, expr } of queries) {
      const result = await query(substituteGrafanaVariables(expr));
      if (result.status !== 'success') failures.push(`${where}: ${result.error}\n${expr}`);
    }
    expect(failures).toEqual([]);
    // Series of the selected metrics exist in Prometheus, e.g. the per-upstream hit ratio has data.
    const perUpstream = await query(substituteGrafanaVariables(documentedQueries()[1]!.expr));
    expect(perUpstream.data?.result.map((r) => r.metric.upstream)).toContain('docker.io');
  });

  it.skipIf(!requireTool('promtool'))('accepts the scrape configuration example of docs/metrics.md', async () => {
    const example = documentedYaml().find((block) => block.includes('scrape_configs'))!;
    const file = join(work.path, 'example.yml');
    await writeFile(file, example);
    await runChecked('promtool', ['check', 'config', file], { timeoutMs: 20_000 });
  });
});
