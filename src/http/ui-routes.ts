import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The strictest policy the UI works with: its own script and styles only (no inline code, no
 * eval), API calls to this origin, no framing, no plugins, no form posts elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
};

interface UiFiles {
  index: Buffer;
  assets: Map<string, { bytes: Buffer; type: string }>;
}

/** dist/ui of this package, whether running from dist/ (npm start) or src/ (tests). */
export const DEFAULT_UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui');

/**
 * The web UI (built by ui/build.mjs into dist/ui): `/` redirects to `/ui/`; `/ui/assets/*` are
 * content-hashed files cached for a year; every other `/ui/*` path is the single page (client-side
 * routes), never cached, with the Content-Security-Policy. Files are read once, on first request.
 */
export function registerUiRoutes(server: FastifyInstance, uiDir = DEFAULT_UI_DIR): void {
  let files: Promise<UiFiles | null> | null = null;
  const load = (): Promise<UiFiles | null> => (files ??= readUi(uiDir).catch(() => null));
  const route = { config: { metricsRoute: 'ui' as const } };
  const securityHeaders = (reply: FastifyReply): FastifyReply =>
    reply
      .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('X-Frame-Options', 'DENY');

  server.get('/', route, async (_request, reply) => reply.redirect('/ui/', 302));
  server.get('/ui', route, async (_request, reply) => reply.redirect('/ui/', 301));
  server.get('/ui/assets/:file', route, async (request, reply) => {
    const ui = await load();
    const asset = ui?.assets.get((request.params as { file: string }).file);
    if (!asset) return securityHeaders(reply).code(404).header('Content-Type', 'text/plain; charset=utf-8').send('not found');
    return securityHeaders(reply).header('Content-Type', asset.type).header('Cache-Control', 'public, max-age=31536000, immutable').send(asset.bytes);
  });
  server.get('/ui/*', route, async (_request, reply) => {
    const ui = await load();
    securityHeaders(reply).header('Cache-Control', 'no-cache');
    if (!ui) {
      files = null; // try again next time: the build may have been run meanwhile
      return reply.code(503).header('Content-Type', 'text/plain; charset=utf-8').send('The web UI is not built: run `npm run build` (the JSON API under /api/v1 works without it).\n');
    }
    return reply.header('Content-Type', TYPES['.html']).send(ui.index);
  });
}

async function readUi(dir: string): Promise<UiFiles> {
  const index = await readFile(join(dir, 'index.html'));
  const assets = new Map<string, { bytes: Buffer; type: string }>();
  for (const name of await readdir(join(dir, 'assets'))) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { bytes: await readFile(join(dir, 'assets', name)), type });
  }
  return { index, assets };
}
