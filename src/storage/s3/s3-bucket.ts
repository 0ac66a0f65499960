import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RegistryError } from '../../oci/errors.js';
import type { ByteRange } from '../blob-store.js';
import type { BufferPool } from '../buffer-pool.js';
import { S3SocketReader, type ObjectResponse } from './s3-socket-reader.js';

/** `storage.s3` as the driver uses it (config.ts has the keys and their defaults). */
export interface S3Settings {
  /** http(s)://host:port of an S3-compatible store; null = AWS S3 in `region`. */
  endpoint: string | null;
  bucket: string;
  region: string;
  /** Both absent: the AWS default chain (environment, web identity/IRSA, instance profile…). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  forcePathStyle: boolean;
  /** Prepended to every key ('' or a path ending in '/'). */
  prefix: string;
  /** Warm blob GETs answer 307 to a presigned URL instead of sending the bytes. */
  redirect: boolean;
  /** The store's address as clients see it, for presigned URLs; null = `endpoint`. */
  publicEndpoint: string | null;
}

export interface StoredObject {
  /** The key without the bucket prefix. */
  path: string;
  size: number;
  /** Epoch ms, the store's clock. */
  lastModified: number;
}

/** S3 wants every part but the last to be at least this big (AWS and RGW alike). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** The largest single PutObject, CopyObject or part. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 3;

/** Presigned URLs live this long (distribution's S3 redirect uses 20 minutes too): long enough to start a download, short enough to leak little. */
const PRESIGN_SECONDS = 20 * 60;
/** Blob GETs (`stream`) sign their own URL for this long; it never leaves the process and is used at once. */
const STREAM_SIGN_SECONDS = 15 * 60;
/** Tries of a blob GET before its response starts (connection refused, 5xx, 429), as the SDK's standard retry does. */
const STREAM_ATTEMPTS = 3;
/** Keys per DeleteObjects request (the S3 maximum). */
const DELETE_BATCH = 1000;

/**
 * One bucket (and key prefix) of an S3-compatible store: the only place that knows the AWS SDK.
 * Paths are keys without the prefix. Absent objects are `null`, never an exception; failures of
 * the store itself (unreachable, 5xx, denied) become RegistryError UNAVAILABLE (503, with the SDK
 * error as its cause for the log) — clients should retry, not conclude that a blob is missing.
 *
 * Client settings real stores need (docs/s3.md): checksums only WHEN_REQUIRED (the default
 * aws-chunked streaming checksums make RGW answer 411 and Swift 501 to a streamed PutObject), and
 * no identity taken from CompleteMultipartUpload's ETag (RGW returns it empty).
 */
export class S3Bucket {
  readonly client: S3Client;
  /** Signs URLs for `publicEndpoint` (a presigned URL names the host it was signed for); sends nothing. */
  private readonly signer: S3Client;

  constructor(
    readonly settings: S3Settings,
    logger: { debug(obj: object, msg: string): void },
  ) {
    // The SDK warns on Node 20 that its releases from 2027 on need Node 22. package.json pins a
    // release that supports Node 20 (docs/s3.md); the warning would only alarm operators.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const credentials =
      settings.accessKeyId !== undefined && settings.secretAccessKey !== undefined
        ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
        : undefined;
    const agent = { keepAlive: true, maxSockets: 128 };
    const common = {
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(credentials ? { credentials } : {}),
      // The SDK prints to the console by default (retries of streamed bodies, deprecations): ours is the debug log.
      logger: { trace() {}, debug() {}, info() {}, warn: (msg: unknown) => logger.debug({ sdk: String(msg) }, 'aws sdk'), error: (msg: unknown) => logger.debug({ sdk: String(msg) }, 'aws sdk') },
    } as const;
    this.client = new S3Client({
      ...common,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      requestHandler: {
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
        connectionTimeout: 5_000,
        // Socket inactivity, body included: a response body a client stopped reading for this long is cut.
        requestTimeout: 120_000,
      },
    });
    const signingEndpoint = settings.publicEndpoint ?? settings.endpoint;
    this.signer = signingEndpoint === settings.endpoint ? this.client : new S3Client({ ...common, endpoint: signingEndpoint! });
  }

  key(path: string): string {
    return this.settings.prefix + path;
  }

  async head(path: string): Promise<{ size: number; lastModified: number } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(path) }));
      return { size: out.ContentLength ?? 0, lastModified: out.LastModified?.getTime() ?? 0 };
    } catch (e) {
      return absent(e);
    }
  }

  /** The object's bytes `start`–`end` (inclusive; the whole object without a range) as a stream, or null when absent. */
  async get(path: string, range?: { start: number; end: number }): Promise<{ body: Readable; length: number } | null> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(path), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      return { body: out.Body as Readable, length: out.ContentLength ?? 0 };
    } catch (e) {
      return absent(e);
    }
  }

  /**
   * Like `get`, for blob bytes on their way to a client: a reader for `range` (the whole object
   * without one), or null when absent. The SDK signs a GET URL (for `endpoint`, the default
   * credential chain included); S3SocketReader sends it on a connection of its own and reads the
   * body into `pool`'s buffers (why not through the SDK: s3-socket-reader.ts, docs/s3.md). Tried
   * like the SDK's requests until the response starts; a body cut later fails the reader.
   */
  async stream(path: string, range: ByteRange | undefined, pool: BufferPool): Promise<S3SocketReader | null> {
    const url = new URL(await this.call(() => getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(path) }), { expiresIn: STREAM_SIGN_SECONDS })));
    for (let attempt = 1; ; attempt++) {
      let response: ObjectResponse;
      try {
        response = await S3SocketReader.open(url, range, pool);
      } catch (e) {
        // Socket errors name the address (ECONNREFUSED 127.0.0.1:7480), never the URL.
        if (attempt < STREAM_ATTEMPTS) await retryPause(attempt);
        else throw unavailable(e);
        continue;
      }
      if ('reader' in response) return response.reader;
      const { status, code } = response;
      if (status === 404) return null;
      if ((status >= 500 || status === 429) && attempt < STREAM_ATTEMPTS) {
        await retryPause(attempt);
        continue;
      }
      throw unavailable(Object.assign(new Error(`the object store answered ${status}${code ? ` ${code}` : ''}`), { name: code ?? `HTTP ${status}`, $metadata: { httpStatusCode: status } }));
    }
  }

  /** A small object's whole content, or null when absent. */
  async getBytes(path: string): Promise<Buffer | null> {
    const object = await this.get(path);
    if (!object) return null;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of object.body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      throw unavailable(e);
    }
  }

  async put(path: string, body: Uint8Array | string | Readable, length?: number): Promise<void> {
    await this.call(() => this.client.send(new PutObjectCommand({
        Bucket: this.settings.bucket,
        Key: this.key(path),
        Body: body,
        ContentLength: length ?? (typeof body === 'string' ? Buffer.byteLength(body) : (body as Uint8Array).byteLength),
      })));
  }

  async delete(path: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(path) })));
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    for (let i = 0; i < paths.length; i += DELETE_BATCH) {
      const batch = paths.slice(i, i + DELETE_BATCH);
      if (batch.length === 1) {
        await this.delete(batch[0]!);
        continue;
      }
      const out = await this.call(() => this.client.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: batch.map((p) => ({ Key: this.key(p) })), Quiet: true } })));
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw unavailable(new Error(`deleting ${failed.length} objects failed: ${failed[0]!.Code}`));
    }
  }

  /** Every object under `prefix` (a path ending in '/'), in key order. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const out = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(prefix), ...(token ? { ContinuationToken: token } : {}) })));
      for (const object of out.Contents ?? []) {
        yield { path: object.Key!.slice(this.settings.prefix.length), size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? 0 };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** The names one level below `prefix` (a path ending in '/'): sub-"directories" (ending in '/') and objects. */
  async children(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(prefix), Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) })));
      const start = this.key(prefix).length;
      for (const p of out.CommonPrefixes ?? []) found.push(p.Prefix!.slice(start));
      for (const o of out.Contents ?? []) found.push(o.Key!.slice(start));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async createMultipart(path: string): Promise<string> {
    const out = await this.call(() => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.key(path) })));
    return out.UploadId!;
  }

  async uploadPart(path: string, uploadId: string, partNumber: number, body: Uint8Array | Readable, length: number): Promise<string> {
    const out = await this.call(() => this.client.send(new UploadPartCommand({ Bucket: this.settings.bucket, Key: this.key(path), UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: length })));
    return out.ETag!;
  }

  /** A part copied inside the store from `source` bytes `start`–`end`: the bytes never pass through here. */
  async uploadPartCopy(path: string, uploadId: string, partNumber: number, source: string, range: { start: number; end: number }): Promise<string> {
    const out = await this.call(() => this.client.send(new UploadPartCopyCommand({
        Bucket: this.settings.bucket,
        Key: this.key(path),
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: `${this.settings.bucket}/${encodeURIComponent(this.key(source)).replace(/%2F/g, '/')}`,
        CopySourceRange: `bytes=${range.start}-${range.end}`,
      })));
    return out.CopyPartResult!.ETag!;
  }

  /** Makes the upload's object visible, whole. (RGW answers with an empty ETag: nothing here relies on it.) */
  async completeMultipart(path: string, uploadId: string, etags: readonly string[]): Promise<void> {
    await this.call(() => this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.settings.bucket,
        Key: this.key(path),
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      })));
  }

  async abortMultipart(path: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.key(path), UploadId: uploadId }));
    } catch (e) {
      if (absent(e) !== null) throw unavailable(e);
    }
  }

  /** Copies `source` (of `size` bytes) to `target` inside the store; over 5 GiB as a multipart copy. */
  async copy(source: string, target: string, size: number): Promise<void> {
    if (size <= MAX_OBJECT_BYTES) {
      await this.call(() => this.client.send(new CopyObjectCommand({ Bucket: this.settings.bucket, Key: this.key(target), CopySource: `${this.settings.bucket}/${encodeURIComponent(this.key(source)).replace(/%2F/g, '/')}` })));
      return;
    }
    const uploadId = await this.createMultipart(target);
    try {
      const etags: string[] = [];
      for (let start = 0; start < size; start += MAX_OBJECT_BYTES) {
        etags.push(await this.uploadPartCopy(target, uploadId, etags.length + 1, source, { start, end: Math.min(start + MAX_OBJECT_BYTES, size) - 1 }));
      }
      await this.completeMultipart(target, uploadId, etags);
    } catch (e) {
      await this.abortMultipart(target, uploadId).catch(() => {});
      throw e;
    }
  }

  /** A URL on the public endpoint that GETs `path` without credentials for 20 minutes. Never log it: the query string is a credential. */
  presign(path: string): Promise<string> {
    return getSignedUrl(this.signer, new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(path) }), { expiresIn: PRESIGN_SECONDS });
  }

  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (e) {
      throw unavailable(e);
    }
  }
}

/** 100 ms, then 200 ms: a store that is briefly busy or restarting. */
const retryPause = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));

const statusOf = (e: unknown): number | undefined => (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/** null for "no such object" (404), else the error as UNAVAILABLE. */
function absent(e: unknown): null {
  if (statusOf(e) === 404 || (e as Error)?.name === 'NoSuchKey' || (e as Error)?.name === 'NotFound' || (e as Error)?.name === 'NoSuchUpload') return null;
  throw unavailable(e);
}

/** The store failed: 503 for the client, the SDK's error (no credentials in it) as the cause for the log. */
export function unavailable(e: unknown): Error {
  if (e instanceof RegistryError) return e;
  const name = (e as Error)?.name ?? 'Error';
  return new RegistryError('UNAVAILABLE', null, { message: `object store unavailable (${name})`, cause: e });
}
