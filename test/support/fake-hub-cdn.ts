import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { serveBlobBytes } from './fake-hub-blob-serving.js';
import type { HubContent } from './fake-hub-content.js';
import type { FakeHubFaults } from './fake-hub-faults.js';

/**
 * The blob CDN behind the fake hub, behaving like S3/CloudFront with signed URLs: the hub signs a
 * location for a blob, the CDN serves it (with Range) to anyone holding the signature, and rejects any
 * request that also carries `Authorization` with 400 — so a client leaking its registry token across
 * the redirect fails loudly.
 */
export class FakeCdn {
  private readonly signatures = new Map<string, { repository: string; digest: string }>();

  constructor(
    private readonly baseUrl: () => string,
    private readonly content: HubContent,
    private readonly faults: FakeHubFaults,
  ) {}

  /** A fresh signed URL for the blob (what the hub's 307 points at). */
  sign(repository: string, digest: string): string {
    const signature = randomBytes(12).toString('hex');
    this.signatures.set(signature, { repository, digest });
    return `${this.baseUrl()}/blobs/${digest}?sig=${signature}&expires=${Date.now() + 600_000}`;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://cdn');
    if (req.headers.authorization !== undefined) {
      return sendXml(res, 400, '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
    }
    const match = /^\/blobs\/([^/]+)$/.exec(url.pathname);
    const signed = this.signatures.get(url.searchParams.get('sig') ?? '');
    if (!match || !signed || signed.digest !== match[1]) return sendXml(res, 403, '<Error><Code>AccessDenied</Code></Error>');
    const found = await this.content.blob(signed.repository, signed.digest);
    if (typeof found === 'string') return sendXml(res, 404, '<Error><Code>NoSuchKey</Code></Error>');
    await serveBlobBytes(req, res, found, this.faults);
  }
}

function sendXml(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
