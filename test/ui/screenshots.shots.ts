import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { launchChromium, openPage } from '../support/browser.js';
import { buildImage } from '../support/fake-hub-images.js';
import { addIndexWithAttestation, pushHosted, startApiFixture, type ApiFixture } from '../api/support/api-fixture.js';

/**
 * `npm run screenshots`: every view of the UI at desktop and phone width, light and dark, into
 * docs/screenshots/ — against a real Stowage with hosted images and images pulled through a fake
 * Docker Hub, with real traffic over a few stats samples so the charts have a history.
 */
const OUT = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');

describe('screenshots', () => {
  let f: ApiFixture;
  let browser: Browser;
  let traffic = true;
  let trafficDone: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    f = await startApiFixture({}, { statsSampleMs: 1000 });
    const { registry, hub } = f;
    await pushHosted(registry, 'team/api', 'v1.4.2', { layerCount: 3, layerSize: 400_000 });
    await pushHosted(registry, 'team/api', 'v1.5.0', { layerCount: 3, layerSize: 420_000 });
    const signed = await pushHosted(registry, 'team/api', 'latest', { layerCount: 3, layerSize: 430_000 });
    const sig = buildImage({ layerCount: 1, layerSize: 300 });
    for (const blob of [sig.config, ...sig.layers]) await registry.pushBlob('team/api', blob.bytes, blob.digest);
    await registry.putManifest('team/api', `sha256-${signed.digest.slice(7)}.sig`, sig.bytes, sig.mediaType);
    await pushHosted(registry, 'team/web/frontend', '2026.12.1', { layerCount: 4, layerSize: 900_000 });
    await pushHosted(registry, 'ci/builder', 'bookworm', { layerCount: 5, layerSize: 2_000_000 });
    // A multi-platform index with a BuildKit attestation; one platform is pulled.
    addIndexWithAttestation(hub, 'library/alpine', '3.21', 1_500_000);
    hub.addImage('library/nginx', '1.27', { layerCount: 3, layerSize: 3_000_000 });
    hub.addImage('library/postgres', '17', { layerCount: 4, layerSize: 2_500_000 });
    hub.addImage('library/redis', '7.4', { layerCount: 2, layerSize: 1_200_000 });
    // Traffic over several samples: cold pulls, then warm ones.
    const pulls: Array<[string, string]> = [['library/alpine', '3.21'], ['library/nginx', '1.27'], ['library/postgres', '17'], ['library/redis', '7.4']];
    for (let round = 0; round < 8; round++) {
      for (const [name, tag] of pulls.slice(0, Math.min(pulls.length, 1 + round))) await f.pull(name, tag);
      await new Promise((r) => setTimeout(r, 300));
    }
    // Clients keep pulling while the pictures are taken, so the charts show a live history.
    trafficDone = (async () => {
      for (let i = 0; traffic; i++) {
        const [name, tag] = pulls[i % pulls.length]!;
        await f.pull(name, tag).catch(() => {});
        await new Promise((r) => setTimeout(r, 150 + (i % 7) * 60));
      }
    })();
    browser = await launchChromium();
    await mkdir(OUT, { recursive: true });
  });
  afterAll(async () => {
    traffic = false;
    await trafficDone;
    await browser?.close();
    await f?.close();
  });

  const views: Array<{ name: string; path: string; ready: (page: Page) => Promise<unknown> }> = [
    { name: 'repositories', path: '/ui/', ready: (p) => p.getByRole('link', { name: 'team/api' }).waitFor() },
    { name: 'repository', path: '/ui/repositories/team/api', ready: (p) => p.getByRole('link', { name: 'v1.5.0' }).waitFor() },
    { name: 'manifest-index', path: '/ui/repositories/docker.io/library/alpine/manifests/3.21', ready: (p) => p.locator('table.layers').waitFor() },
    { name: 'manifest-image', path: '/ui/repositories/team/api/manifests/latest', ready: (p) => p.locator('table.layers').waitFor() },
    { name: 'stats', path: '/ui/stats', ready: (p) => p.locator('.chart svg').first().waitFor() },
  ];

  it('takes every view at desktop and phone width', async () => {
    for (const view of views) {
      for (const size of ['desktop', 'phone'] as const) {
        for (const scheme of size === 'desktop' ? (['light', 'dark'] as const) : (['light'] as const)) {
          const { page, context } = await openPage(browser, { phone: size === 'phone', colorScheme: scheme });
          await page.goto(`${f.stowage.url}${view.path}`);
          await view.ready(page);
          await page.waitForLoadState('networkidle');
          const suffix = scheme === 'dark' ? '-dark' : '';
          await page.screenshot({ path: join(OUT, `${view.name}-${size}${suffix}.png`), fullPage: size === 'phone' || view.name.startsWith('manifest') });
          await context.close();
        }
      }
    }
  });
});
