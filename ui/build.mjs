// Builds the web UI into dist/ui: one JS and one CSS bundle named by content hash (served with a
// year-long immutable cache), the favicon likewise, and index.html naming them (never cached).
// esbuild bundles the TypeScript/JSX and Preact in ~100 ms; no network, no dev server.
//   node ui/build.mjs [outDir]
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = join(here, '..', 'dist', 'ui');

export async function buildUi(outDir = DEFAULT_OUT) {
  const out = resolve(outDir);
  const assets = join(out, 'assets');
  await rm(out, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome123', 'firefox120', 'safari17.5'], // light-dark() in CSS
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assets,
    entryNames: 'app-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').at(-1));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  const icon = await readFile(join(here, 'favicon.svg'));
  const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
  await writeFile(join(assets, iconName), icon);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Stowage</title>
<link rel="icon" href="/ui/assets/${iconName}" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/${css}">
<script type="module" src="/ui/assets/${js}"></script>
</head>
<body>
<div id="app"><noscript>The Stowage UI needs JavaScript. The JSON API under /api/v1 works without it.</noscript></div>
</body>
</html>
`;
  await writeFile(join(out, 'index.html'), html);
  return { out, files: [js, css, iconName] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { out: dir, files } = await buildUi(process.argv[2]);
  console.log(`ui: built ${files.join(', ')} into ${dir}`);
}
