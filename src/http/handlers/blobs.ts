import type { Digest } from '../../oci/digest.js';
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
  const length = body.range ? body.range.end - body.range.start + 1 : body.size;
  // Counted once the whole body was handed to the socket. Not on 'finish': a client that has its
  // Content-Length bytes may close first, and that response was still served in full.
  reply.raw.once('close', () => {
    if (reply.raw.writableEnded) observer.bytesServed({ source: body.source, bytes: length });
  });
  reply
    .header('Docker-Content-Digest', path.digest)
    .header('Content-Type', 'application/octet-stream')
    .header('Accept-Ranges', 'bytes')
    .header('ETag', `"${path.digest}"`)
    // Blobs are immutable: any cache between us and the client may keep them for good.
    .header('Cache-Control', 'max-age=31536000, immutable');
  if (body.range) {
    reply
      .code(206)
      .header('Content-Range', `bytes ${body.range.start}-${body.range.end}/${body.size}`)
      .header('Content-Length', length);
  } else {
    reply.header('Content-Length', length);
  }
  return reply.send(body.stream);
}

export async function deleteBlob({ repository, reply, path }: HandlerContext<BlobPath>): Promise<void> {
  await repository.deleteBlob(path.digest);
  reply.code(202).header('Content-Length', 0).send();
}
