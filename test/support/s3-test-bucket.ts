/**
 * Fresh buckets on a test object store (test/support/ceph-rgw.ts), one per test subject, and the
 * Stowage settings that point at them. Plain Node (no vitest), so the bench can use it too.
 */
import { randomUUID } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Settings } from '../../src/storage/s3/s3-bucket.js';
import type { CephRgw } from './ceph-rgw.js';

// The SDK's warning that its 2027 releases need Node 22 (package.json pins one that supports 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Where a test object store answers and who may use it (a CephRgw is one). */
export type S3Store = Pick<CephRgw, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>;

export interface TestBucket {
  name: string;
  /** `storage.s3` for Stowage (`prefix`, `redirect` and `publicEndpoint` may be overridden). */
  settings: S3Settings;
  client: S3Client;
  /** Objects and incomplete multipart uploads in the bucket, by key. */
  keys(): Promise<string[]>;
  pendingUploads(): Promise<string[]>;
  /** Deletes every object, aborts every upload and removes the bucket (memstore keeps objects in RAM). */
  remove(): Promise<void>;
}

export function s3Client(store: S3Store): S3Client {
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: true,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createTestBucket(store: S3Store, name = `t-${randomUUID().slice(0, 18)}`, overrides: Partial<S3Settings> = {}): Promise<TestBucket> {
  const client = s3Client(store);
  await client.send(new CreateBucketCommand({ Bucket: name })).catch((e: unknown) => {
    if ((e as Error).name !== 'BucketAlreadyOwnedByYou' && (e as Error).name !== 'BucketAlreadyExists') throw e;
  });
  const settings: S3Settings = {
    endpoint: store.endpoint,
    bucket: name,
    region: store.region,
    accessKeyId: store.accessKeyId,
    secretAccessKey: store.secretAccessKey,
    forcePathStyle: true,
    prefix: '',
    redirect: false,
    publicEndpoint: null,
    ...overrides,
  };
  const keys = async (): Promise<string[]> => {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const out = await client.send(new ListObjectsV2Command({ Bucket: name, ...(token ? { ContinuationToken: token } : {}) }));
      found.push(...(out.Contents ?? []).map((o) => o.Key!));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return found;
  };
  const uploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: name }))).Uploads ?? [];
  return {
    name,
    settings,
    client,
    keys,
    pendingUploads: async () => (await uploads()).map((u) => u.Key!),
    async remove() {
      for (const upload of await uploads()) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: upload.Key!, UploadId: upload.UploadId! })).catch(() => {});
      }
      for (let batch = await keys(); batch.length > 0; batch = await keys()) {
        await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: batch.slice(0, 1000).map((Key) => ({ Key })), Quiet: true } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      client.destroy();
    },
  };
}
