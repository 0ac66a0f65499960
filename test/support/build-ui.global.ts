/**
 * Vitest global setup: builds the web UI (ui/build.mjs, esbuild, ~0.1 s) into dist/ui before any
 * test file runs, so `npm test` from a fresh clone serves the same UI `npm start` does.
 */
export default async function setup(): Promise<void> {
  const { buildUi } = (await import('../../ui/build.mjs' as string)) as { buildUi(): Promise<unknown> };
  await buildUi();
}
