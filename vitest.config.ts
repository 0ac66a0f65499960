import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-ui.global.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real-client tests start daemons; they run in their own files and must not overlap on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
