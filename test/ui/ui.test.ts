import type { Browser, Page } from 'playwright-core';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, openPage } from '../support/browser.js';
import { AuthorizedClient, basic, writeHtpasswd } from '../support/auth.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { pushHosted, startApiFixture, type ApiFixture } from '../api/support/api-fixture.js';

// Browser-side code in page.waitForFunction callbacks (serialized, run in the page: string forms
// would need eval, which the UI's CSP forbids). The DOM is not in this project's TypeScript libs.
declare const document: any, location: any;

/**
 * The web UI in Debian's Chromium against a real Stowage with hosted images and images cached from
 * a fake Docker Hub. Assertions are what a person sees: text, rows, the clipboard.
 */
describe.skipIf(!hasChromium())('web UI', () => {
  let f: ApiFixture;
  let browser: Browser;
  let hubRequests = 0;
  const consoleErrors: string[] = [];

  const open = async (path: string, options: Parameters<typeof openPage>[1] = {}): Promise<Page> => {
    const { page } = await openPage(browser, options);
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${f.stowage.url}${path}`);
    return page;
  };
  const rowNames = (page: Page): Promise<string[]> => page.locator('table.repositories tbody td.name').allInnerTexts();

  beforeAll(async () => {
    f = await startApiFixture();
    await pushHosted(f.registry, 'team/app', '1.0', { layerCount: 2 });
    await pushHosted(f.registry, 'team/app', '1.1', { layerCount: 1 });
    await pushHosted(f.registry, 'team/tools/lint', 'latest');
    f.hub.addIndex('library/alpine', '3.20', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
    f.hub.addImage('library/nginx', 'latest');
    await f.pull('library/alpine', '3.20', { platform: 'linux/amd64' });
    await f.pull('library/nginx', 'latest');
    hubRequests = f.hub.count();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await f?.close();
  });

  it('opens on the repositories, hosted and cached, with a strict Content-Security-Policy', async () => {
    const response = await fetch(`${f.stowage.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/ui/');
    const page = await open('/');
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    expect(page.url()).toBe(`${f.stowage.url}/ui/`);
    expect(await rowNames(page)).toEqual(['docker.io/library/alpine', 'docker.io/library/nginx', 'team/app', 'team/tools/lint']);
    await expect(page.locator('table.repositories').getByText('cached · docker.io').count()).resolves.toBe(2);
    await expect(page.getByText('4 repositories')).toBeTruthy();
    const html = await fetch(`${f.stowage.url}/ui/`);
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html.headers.get('content-security-policy')).not.toContain('unsafe');
    expect(html.headers.get('cache-control')).toBe('no-cache');
    const script = /src="(\/ui\/assets\/app-[A-Z0-9]+\.js)"/.exec(await html.text())![1]!;
    const asset = await fetch(`${f.stowage.url}${script}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.arrayBuffer();
    expect(consoleErrors).toEqual([]);
    await page.context().close();
  });

  it('searches from the keyboard: "/" focuses the box, substring and glob narrow the rows', async () => {
    const page = await open('/ui/');
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    await page.keyboard.press('/');
    expect(await page.evaluate('document.activeElement?.id')).toBe('search');
    await page.keyboard.type('alp');
    await page.waitForFunction(() => document.querySelectorAll('table.repositories tbody tr').length === 1);
    expect(await rowNames(page)).toEqual(['docker.io/library/alpine']);
    expect(page.url()).toContain('q=alp');
    await page.getByRole('searchbox').fill('team/*');
    await page.waitForFunction(() => document.querySelectorAll('table.repositories tbody tr').length === 2);
    expect(await rowNames(page)).toEqual(['team/app', 'team/tools/lint']);
    await page.getByRole('searchbox').fill('no-such-thing');
    await page.getByRole('heading', { name: 'No repository matches' }).waitFor();
    // Sorting is a button in the column header: reachable and usable from the keyboard.
    await page.getByRole('searchbox').fill('');
    await page.waitForFunction(() => document.querySelectorAll('table.repositories tbody tr').length === 4);
    await page.getByRole('button', { name: 'Pulls' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.search.includes('sort=pulls'));
    await page.waitForFunction(() => document.querySelector('table.repositories tbody td.name')?.textContent === 'docker.io/library/alpine');
    await page.getByRole('combobox', { name: 'Kind' }).selectOption('hosted');
    await page.waitForFunction(() => document.querySelectorAll('table.repositories tbody tr').length === 2);
    expect(await rowNames(page)).toEqual(['team/app', 'team/tools/lint']);
    await page.context().close();
  });

  it('opens a repository and an index, switches platform; what was never pulled shows "not cached" and is not fetched', async () => {
    const page = await open('/ui/');
    await page.getByRole('link', { name: 'docker.io/library/alpine' }).click();
    await page.getByRole('heading', { name: 'docker.io/library/alpine' }).waitFor();
    const row = page.locator('table.tags tbody tr').first();
    expect(await row.locator('td.name a').innerText()).toBe('3.20');
    expect(await row.innerText()).toContain('linux/amd64, linux/arm64/v8');
    await page.getByRole('link', { name: '3.20' }).click();
    await page.getByRole('heading', { name: 'Platforms' }).waitFor();
    // linux/amd64 was pulled: its layers and config are shown.
    await page.getByRole('heading', { name: /^Layers/ }).waitFor();
    expect(await page.locator('table.layers tbody tr').count()).toBe(2);
    expect(await page.getByText('linux/amd64', { exact: true }).count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: /linux\/arm64\/v8/ }).click();
    await page.getByRole('heading', { name: 'linux/arm64/v8 is not cached' }).waitFor();
    expect(await page.locator('table.layers').count()).toBe(0);
    await page.getByRole('button', { name: /linux\/amd64/ }).click();
    await page.locator('table.layers').waitFor();
    await page.getByText('Raw manifest').click();
    expect(await page.locator('.raw pre').innerText()).toContain('"manifests"');
    expect(f.hub.count()).toBe(hubRequests);
    await page.context().close();
  });

  it('copies pull commands: by tag and digest, through Stowage and as a mirror, for each client', async () => {
    const page = await open('/ui/repositories/docker.io/library/alpine');
    await page.getByRole('heading', { name: 'Tags' }).waitFor();
    const clipboard = (): Promise<string> => page.evaluate<string>('navigator.clipboard.readText()');
    const lines = page.locator('.pull-line');
    await lines.filter({ hasText: 'through Stowage' }).getByRole('button').click();
    expect(await clipboard()).toBe(`docker pull ${f.stowage.host}/docker.io/library/alpine:3.20`);
    await lines.filter({ hasText: 'as a mirror' }).getByRole('button').click();
    expect(await clipboard()).toBe('docker pull docker.io/library/alpine:3.20');
    await page.getByRole('button', { name: 'podman' }).click();
    await page.getByRole('button', { name: 'by digest' }).click();
    await lines.filter({ hasText: 'through Stowage' }).getByRole('button').click();
    expect(await clipboard()).toMatch(new RegExp(`^podman pull --tls-verify=false ${f.stowage.host}/docker\\.io/library/alpine@sha256:[a-f0-9]{64}$`));
    await page.getByRole('button', { name: 'crane' }).click();
    await lines.filter({ hasText: 'through Stowage' }).getByRole('button').click();
    expect(await clipboard()).toMatch(/^crane pull --insecure .+@sha256:[a-f0-9]{64} image\.tar$/);
    await page.goto(`${f.stowage.url}/ui/repositories/team/app`);
    await page.getByRole('heading', { name: 'Tags' }).waitFor();
    await page.getByRole('button', { name: 'nerdctl' }).click();
    await page.getByRole('button', { name: 'Pull commands for 1.0' }).click();
    expect(await lines.count()).toBe(1); // hosted: no mirror form
    await lines.getByRole('button').click();
    expect(await clipboard()).toBe(`nerdctl pull --insecure-registry ${f.stowage.host}/team/app:1.0`);
    await page.context().close();
  });

  it('deletes a hosted tag after confirmation and shows it gone; cached tags offer no delete', async () => {
    const page = await open('/ui/repositories/team/app');
    await page.getByRole('heading', { name: 'Tags' }).waitFor();
    expect(await page.locator('table.tags tbody td.name a').allInnerTexts()).toEqual(['1.0', '1.1']);
    await page.getByRole('button', { name: 'Delete 1.0' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.innerText()).toContain('Delete tag 1.0 from team/app?');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Deleted tag 1.0.').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table.tags tbody tr').length === 1);
    expect(await page.locator('table.tags tbody td.name a').allInnerTexts()).toEqual(['1.1']);
    expect((await f.registry.fetch('/v2/team/app/manifests/1.0')).status).toBe(404);
    await page.goto(`${f.stowage.url}/ui/repositories/docker.io/library/nginx`);
    await page.getByRole('heading', { name: 'Tags' }).waitFor();
    expect(await page.getByRole('button', { name: /^Delete/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Refresh latest' }).count()).toBe(1);
    await page.context().close();
  });

  it('shows the stats the API reports, and an upstream in trouble', async () => {
    f.hub.faults.fail('manifest', { status: 503, times: 10 });
    await f.registry.fetch('/v2/library/alpine/manifests/never-cached').then((r) => r.arrayBuffer());
    const stats = (await f.json('stats')) as { cache: { hitRatio: number; requests: number } };
    const page = await open('/ui/stats');
    const card = page.locator('[data-figure="hit-ratio"]');
    await card.waitFor();
    expect(await card.innerText()).toContain(`of ${stats.cache.requests} requests`);
    expect(await page.locator('table.upstreams').innerText()).toContain('upstream unreachable');
    f.hub.reset();
    await page.context().close();
  });

  it('pins a cached image from its page: the mark shows there and on its tag row, eviction is withheld; unpins it', async () => {
    const page = await open('/ui/repositories/docker.io/library/alpine/manifests/3.20');
    await page.getByRole('button', { name: 'Pin', exact: true }).click();
    await page.getByRole('button', { name: 'Unpin' }).waitFor();
    expect(await page.locator('header .badge-pinned').innerText()).toBe('pinned');
    expect(await page.getByRole('button', { name: 'Evict from cache' }).count()).toBe(0);
    await page.goto(`${f.stowage.url}/ui/repositories/docker.io/library/alpine`);
    await page.locator('tbody tr', { hasText: '3.20' }).locator('.badge-pinned').waitFor();
    await page.goto(`${f.stowage.url}/ui/repositories/docker.io/library/alpine/manifests/3.20`);
    await page.getByRole('button', { name: 'Unpin' }).click();
    await page.getByRole('button', { name: 'Pin', exact: true }).waitFor();
    expect(await page.locator('header .badge-pinned').count()).toBe(0);
    await page.context().close();
  });

  it('shows a prefetch run on the stats page, image by image', async () => {
    const started = await f.call('prefetch', { method: 'POST', body: JSON.stringify({ refs: ['docker.io/library/nginx:latest'] }), headers: { 'X-Stowage-CSRF': '1', 'Content-Type': 'application/json' } });
    expect(started.status).toBe(202);
    await started.arrayBuffer();
    const page = await open('/ui/stats');
    const item = page.locator('[data-section="prefetch"] li[data-state="done"]', { hasText: 'docker.io/library/nginx:latest' });
    await item.waitFor();
    expect(await item.innerText()).toContain('fetched');
    await page.context().close();
  });

  it('runs garbage collection from the stats page: a dry run first, then a confirmed run, and shows the result', async () => {
    await f.registry.pushBlob('team/app', Buffer.from('a blob nothing references'));
    const page = await open('/ui/stats');
    const panel = page.locator('[data-section="gc"]');
    await panel.waitFor();
    expect(await panel.innerText()).toContain('No run since this process started');
    await panel.getByRole('button', { name: 'Dry run' }).click();
    await page.locator('[data-figure="gc-last"]').filter({ hasText: 'Dry run just now: would remove 0 manifests' }).waitFor();
    await panel.getByRole('button', { name: 'Collect garbage' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Collect' }).click();
    // The blob was pushed a moment ago: inside the grace period, so it stays.
    await page.locator('[data-figure="gc-last"]').filter({ hasText: 'Last run just now: removed 0 manifests, 0 tags and 0 blobs' }).waitFor();
    expect((await f.json('gc')).last).toMatchObject({ dryRun: false, blobsRemoved: 0 });
    await page.context().close();
  });

  it('follows the system dark mode, and the toggle overrides it', async () => {
    const page = await open('/ui/', { colorScheme: 'dark' });
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    const background = (): Promise<string> => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(await background()).toBe('rgb(15, 20, 27)');
    await page.getByRole('button', { name: /^Theme: system/ }).click();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('light');
    expect(await background()).toBe('rgb(246, 247, 249)');
    await page.getByRole('button', { name: /^Theme: light/ }).click();
    expect(await background()).toBe('rgb(15, 20, 27)');
    await page.reload();
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark'); // remembered
    await page.context().close();
  });

  it('fits a phone-width screen without sideways scrolling', async () => {
    for (const path of ['/ui/', '/ui/repositories/docker.io/library/alpine', '/ui/repositories/docker.io/library/alpine/manifests/3.20', '/ui/stats']) {
      const page = await open(path, { phone: true });
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, path).toBeLessThanOrEqual(0);
      await page.context().close();
    }
  });

  it('says clearly what is wrong: unknown repository, nothing cached yet', async () => {
    const page = await open('/ui/repositories/team/none');
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.context().close();
    const empty = await startStowage();
    try {
      const { page: fresh, context } = await openPage(browser);
      await fresh.goto(`${empty.url}/ui/`);
      await fresh.getByRole('heading', { name: 'Nothing cached yet' }).waitFor();
      expect(await fresh.locator('main').innerText()).toContain(`docker pull ${empty.host}/docker.io/library/alpine:latest`);
      await context.close();
    } finally {
      await empty.close();
    }
    expect(consoleErrors.filter((e) => !e.includes('404'))).toEqual([]);
  });

  it('evicts a cached image from its page after confirmation', async () => {
    const page = await open('/ui/repositories/docker.io/library/nginx/manifests/latest');
    await page.getByRole('button', { name: 'Evict from cache' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.innerText()).toContain('the next pull fetches it from docker.io again');
    await dialog.getByRole('button', { name: 'Evict' }).click();
    await page.getByRole('heading', { name: 'No tags' }).waitFor();
    expect(page.url()).toBe(`${f.stowage.url}/ui/repositories/docker.io/library/nginx`);
    // Hosted images offer no eviction.
    await page.goto(`${f.stowage.url}/ui/repositories/team/app/manifests/1.1`);
    await page.getByRole('heading', { name: /^Layers/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Evict from cache' }).count()).toBe(0);
    await page.context().close();
  });
});

describe.skipIf(!hasChromium() || !requireTool('htpasswd'))('web UI with access control', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let stowage: RunningStowage;
  let browser: Browser;

  beforeAll(async () => {
    work = await tempDir('ui-auth');
    const htpasswd = `${work.path}/htpasswd`;
    await writeHtpasswd(htpasswd, { alice: 'alice-pw' });
    stowage = await startStowage({
      config: {
        hosted: ['team/**', 'public/**'],
        auth: {
          htpasswd,
          access: [
            { repos: ['team/**', 'public/**'], users: ['alice'], actions: ['pull', 'push', 'delete'] },
            { repos: ['public/**'], users: ['anonymous', '*'], actions: ['pull'] },
          ],
          token: { ttl: '15m' },
        },
      },
    });
    const alice = new AuthorizedClient(stowage.url, basic('alice', 'alice-pw'));
    await pushHosted(alice, 'team/secret', '1');
    await pushHosted(alice, 'public/base', '1');
    await alice.close();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stowage?.close();
    await work?.remove();
  });

  it('signs in with the form (no Basic pop-up), shows what alice may see and do, and signs out', async () => {
    const { page, context } = await openPage(browser);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.type());
      void d.dismiss();
    });
    await page.goto(`${stowage.url}/ui/repositories/team/secret`);
    await page.getByRole('heading', { name: 'Sign in to see this' }).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).first().click();
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong user name or password.').waitFor();
    await page.getByLabel('Password').fill('alice-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the viewer was going, signed in.
    await page.getByRole('heading', { name: 'team/secret' }).waitFor();
    expect(page.url()).toBe(`${stowage.url}/ui/repositories/team/secret`);
    expect(await page.locator('.user-name').innerText()).toBe('alice');
    expect(await page.getByRole('button', { name: 'Delete 1' }).count()).toBe(1);
    await page.getByRole('link', { name: 'Repositories', exact: true }).click();
    await page.getByRole('link', { name: 'team/secret' }).waitFor();
    expect(await page.locator('table.repositories tbody td.name').allInnerTexts()).toEqual(['public/base', 'team/secret']);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'stowage_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table.repositories tbody tr').length === 1);
    expect(await page.locator('table.repositories tbody td.name').allInnerTexts()).toEqual(['public/base']);
    expect(dialogs).toEqual([]); // never the browser's own credentials prompt
    await context.close();
  });
});
