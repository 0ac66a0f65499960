/**
 * Vitest global setup of the `s3` project (vitest.config.ts): one Ceph RGW for the whole run, whose
 * address every test file of the project gets through `inject('s3Store')`; test/support/stowage.ts
 * then starts Stowage with `storage.driver: s3` on a bucket of its own.
 */
import type { TestProject } from 'vitest/node';
import { CEPH_TOOLS, startCephRgw } from './ceph-rgw.js';
import { requireTool } from './processes.js';
import type { S3Store } from './s3-test-bucket.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set in the `s3` project only. */
    s3Store: S3Store | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!CEPH_TOOLS.every((tool) => requireTool(tool))) {
    project.provide('s3Store', null);
    return async () => {};
  }
  const rgw = await startCephRgw({ memoryBytes: 3 * 1024 ** 3 });
  project.provide('s3Store', { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: rgw.region });
  return () => rgw.stop();
}
