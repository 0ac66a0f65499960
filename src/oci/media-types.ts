/** Manifest media types Stowage stores and negotiates. Bytes are always stored exactly as received. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);
export const IMAGE_MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);
export const SCHEMA1_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.DockerSchema1, MediaType.DockerSchema1Signed]);
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([...INDEX_MEDIA_TYPES, ...IMAGE_MANIFEST_MEDIA_TYPES]);
/**
 * Non-distributable ("foreign") layer types: the layer is fetched from its descriptor's `urls`, not
 * from a registry (Windows base layers). Deprecated by image-spec 1.1 but still pushed by docker.
 */
export const FOREIGN_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** What Stowage asks upstreams for: every type it can store, then anything (so errors are explicit). */
export const UPSTREAM_MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
  '*/*;q=0.1',
].join(', ');
