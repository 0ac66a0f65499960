import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requireTool } from './processes.js';

/** Debian's Chromium: CI installs the `chromium` package; no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

/** For `describe.skipIf(!hasChromium())`: under CI a missing Chromium is an error, not a skip. */
export const hasChromium = (): boolean => requireTool(CHROMIUM);

/**
 * Headless Chromium as root on a machine without network: no sandbox (root), no GPU, and none of
 * the background connections (updates, sync, QUIC probes) that this machine's closed network
 * refuses. Playwright gives every launch a fresh, temporary profile (user data dir).
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page at desktop (1280×800) or phone (390×844) size, with clipboard access for copy buttons. */
export async function openPage(browser: Browser, options: { phone?: boolean; colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    ...(options.phone ? { isMobile: true, hasTouch: true } : {}),
    colorScheme: options.colorScheme ?? 'light',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}
