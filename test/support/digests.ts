import { createHash } from 'node:crypto';

/** Digests of test content, the way a client would compute them. */
export const sha256 = (bytes: Uint8Array | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
export const sha512 = (bytes: Uint8Array | string): string => `sha512:${createHash('sha512').update(bytes).digest('hex')}`;

/** An Accept header naming every manifest type, as containerd and docker send it. */
export const ACCEPT_ALL_MANIFESTS = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
