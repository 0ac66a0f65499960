import { defineConfig } from 'vitest/config';

/**
 * The black-box tests about behaviour rather than the fs layout that run a second time with
 * `storage.driver: s3` on a real Ceph RGW (project `s3`; test/support/stowage.ts picks the bucket):
 * push, pull through, ranges, uploads, restart, the OCI conformance flows.
 */
export const ON_S3 = [
  'test/http/blobs.test.ts',
  'test/http/uploads.test.ts',
  'test/http/manifests.test.ts',
  'test/http/tags-and-catalog.test.ts',
  'test/http/restart.test.ts',
  'test/http/conformance-push.test.ts',
  'test/http/conformance-pull.test.ts',
  'test/http/conformance-content-management.test.ts',
  'test/proxy/pull-through.test.ts',
  'test/proxy/blob-fills.test.ts',
  // Lifecycle work goes through the storage interfaces only: GC (racing pushes), retention, prefetch, pins.
  'test/lifecycle/gc.test.ts',
  'test/lifecycle/gc-race.test.ts',
  'test/lifecycle/retention.test.ts',
  'test/lifecycle/prefetch.test.ts',
  'test/lifecycle/pins.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real-client tests start daemons; they run in their own files and must not overlap on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'fs', include: ['test/**/*.test.ts'], exclude: ['test/s3/**', 'test/cluster/**'], globalSetup: ['test/support/build-ui.global.ts'] },
      },
      {
        extends: true,
        // test/s3/: what only the s3 driver has (its contract runs, redirects, the bucket probe);
        // test/cluster/: replicas sharing a bucket and a Redis (issue 13).
        test: { name: 's3', include: [...ON_S3, 'test/s3/**/*.test.ts', 'test/cluster/**/*.test.ts'], globalSetup: ['test/support/build-ui.global.ts', 'test/support/ceph-rgw.global.ts'] },
      },
    ],
  },
});
