import { defineConfig } from 'vitest/config';

/** `npm run screenshots`: regenerates docs/screenshots/ (not part of `npm test`). */
export default defineConfig({
  test: {
    include: ['test/ui/screenshots.shots.ts'],
    globalSetup: ['test/support/build-ui.global.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
