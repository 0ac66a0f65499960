import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Digest } from '../../oci/digest.js';
import type { StreamedBlob } from '../../registry/repository.js';
import { parseRangeHeader } from '../range-header.js';
import type { HandlerContext } from './context.js';

type BlobPath = { name: string; digest: Digest };

export async function headBlob({ repository, reply, path }: HandlerContext<BlobPath>): Promise<void> {
  const { size } = await repository.statBlob(path.digest);
  reply
    .header('Content-Length', size)
    .header('Docker-Content-Digest', path.digest)
    .header('Content-Type', 'application/octet-stream')
    .header('Accept-Ranges', 'bytes')
    .header('ETag', `"${path.digest}"`)
    .send();
}

export async function getBlob({ repository, request, reply, path, observer }: HandlerContext<BlobPath>): Promise<void> {
  const body = await repository.openBlob(path.digest, parseRangeHeader(request.headers.range));
  if ('location' in body) {
    // The object store sends the bytes (storage.s3.redirect); the client repeats its Range there.
    // 307 keeps the method. The URL expires in minutes: never cached, never logged.
    reply.code(307).header('Location', body.location).header('Docker-Content-Digest', path.digest).header('Cache-Control', 'no-store').header('Content-Length', 0).send();
    return;
  }
  await sendBlob(request, reply, path.digest, body, (bytes) => observer.bytesServed({ source: body.source, bytes }));
}

/**
 * Sends `body` as a blob response once its first byte can be sent (until then a failure is still a
 * clean error status); `sent` is told the byte count once the whole body was handed to the socket.
 */
export async function sendBlob(
  request: FastifyRequest,
  reply: FastifyReply,
  digest: Digest,
  body: Pick<StreamedBlob, 'size' | 'range' | 'reader'>,
  sent: (bytes: number) => void,
): Promise<void> {
  const { length } = body.reader;
  try {
    // A blob still downloading may yet fail before its first byte: that is a clean error response.
    await body.reader.ready();
  } catch (e) {
    await body.reader.close();
    throw e;
  }
  reply
    .header('Docker-Content-Digest', digest)
    .header('Content-Type', 'application/octet-stream')
    .header('Accept-Ranges', 'bytes')
    .header('ETag', `"${digest}"`)
    // Blobs are immutable: any cache between us and the client may keep them for good.
    .header('Cache-Control', 'max-age=31536000, immutable')
    .header('Content-Length', length);
  if (body.range) reply.header('Content-Range', `bytes ${body.range.start}-${body.range.end}/${body.size}`);
  // The body goes to the socket without Fastify's stream handling: the reader recycles its buffers
  // on the socket's write callbacks, which `reply.send(stream)` would hide. Fastify still logs the
  // request and runs onResponse when the response finishes.
  reply.hijack();
  const response = reply.raw;
  // Counted once the whole body was handed to the socket. Not on 'finish': a client that has its
  // Content-Length bytes may close first, and that response was still served in full.
  response.once('close', () => {
    if (response.writableEnded) sent(length);
  });
  response.writeHead(body.range ? 206 : 200, reply.getHeaders() as OutgoingHttpHeaders);
  try {
    await body.reader.pipeTo(response);
  } catch (e) {
    // Headers are out: the only honest signal left is a cut connection.
    response.destroy();
    if (!request.raw.destroyed) request.log.warn({ err: e, digest }, 'blob response failed mid-body');
  }
}

export async function deleteBlob({ repository, reply, path }: HandlerContext<BlobPath>): Promise<void> {
  await repository.deleteBlob(path.digest);
  reply.code(202).header('Content-Length', 0).send();
}
