/**
 * The OCI distribution error vocabulary: one table from error kind to the code a body carries, the
 * HTTP status and a default message, and the error type every layer throws. The HTTP layer renders
 * it as `{"errors":[{"code","message","detail"}]}`.
 *
 * Every 4xx carries one of the specification's codes (it says the code MUST be one of them). Where
 * the specification has no code for a reason, or HTTP needs another status (416, 413, 431, 501), the
 * reason is a kind of its own in this table, with the nearest specification code and the precise
 * reason in its message — never a status overridden at the throw site. 5xx answers keep the
 * envelope with our own codes: the specification lists none for them.
 */
export const SPEC_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
] as const;

export type SpecCode = (typeof SPEC_CODES)[number];
type OwnCode = 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT' | 'UNAVAILABLE' | 'INTERNAL_ERROR' | 'STORAGE_FULL';

interface ErrorEntry {
  code: SpecCode | OwnCode;
  status: number;
  message: string;
}

export const ERRORS = {
  // The specification's codes, at the status its endpoints give them.
  BLOB_UNKNOWN: { code: 'BLOB_UNKNOWN', status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { code: 'BLOB_UPLOAD_INVALID', status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { code: 'BLOB_UPLOAD_UNKNOWN', status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { code: 'DIGEST_INVALID', status: 400, message: 'provided digest did not match uploaded content' },
  // 400, as distribution and zot answer: the manifest is the bad request, not a missing resource.
  MANIFEST_BLOB_UNKNOWN: { code: 'MANIFEST_BLOB_UNKNOWN', status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { code: 'MANIFEST_INVALID', status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { code: 'MANIFEST_UNKNOWN', status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { code: 'NAME_INVALID', status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { code: 'NAME_UNKNOWN', status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { code: 'SIZE_INVALID', status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { code: 'UNAUTHORIZED', status: 401, message: 'authentication required' },
  DENIED: { code: 'DENIED', status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { code: 'UNSUPPORTED', status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { code: 'TOOMANYREQUESTS', status: 429, message: 'too many requests' },

  // Reasons without a code of their own: the nearest specification code, the status HTTP needs.
  /** A manifest PUT under a tag the grammar does not allow (distribution's TAG_INVALID). */
  TAG_INVALID: { code: 'MANIFEST_INVALID', status: 400, message: 'invalid tag' },
  MANIFEST_TOO_LARGE: { code: 'MANIFEST_INVALID', status: 413, message: 'manifest too large' },
  BLOB_TOO_LARGE: { code: 'SIZE_INVALID', status: 413, message: 'blob exceeds the configured size limit' },
  /** A chunk that does not start where the upload ends (distribution's RANGE_INVALID). */
  CHUNK_OUT_OF_ORDER: { code: 'BLOB_UPLOAD_INVALID', status: 416, message: 'chunk does not start where the upload ends' },
  /** A blob `Range` outside the blob. */
  RANGE_NOT_SATISFIABLE: { code: 'SIZE_INVALID', status: 416, message: 'requested range not satisfiable' },
  /** `n` on tags/list or the catalog that is not a count (distribution's PAGINATION_NUMBER_INVALID). */
  PAGINATION_NUMBER_INVALID: { code: 'UNSUPPORTED', status: 400, message: 'invalid number of results requested' },
  /** A query parameter of the JSON API (/api/v1) that is not one it accepts: sort, order, kind, cursor, limit. */
  PARAMETER_INVALID: { code: 'UNSUPPORTED', status: 400, message: 'invalid request parameter' },
  ENDPOINT_UNKNOWN: { code: 'UNSUPPORTED', status: 404, message: 'no such endpoint' },
  /** A token endpoint request it cannot answer (a service that is not ours, a bad grant). */
  TOKEN_REQUEST_INVALID: { code: 'UNSUPPORTED', status: 400, message: 'invalid token request' },
  TOKEN_REQUEST_TOO_LARGE: { code: 'SIZE_INVALID', status: 413, message: 'token request too large' },
  /** A method no endpoint knows (RFC 9110 allows 501 for it); a known one an endpoint lacks is 405. */
  METHOD_UNKNOWN: { code: 'UNSUPPORTED', status: 501, message: 'unknown method' },
  /** A garbage collection of another kind (dry or not, another scope) is running; one of the same kind is joined. */
  GC_IN_PROGRESS: { code: 'UNSUPPORTED', status: 409, message: 'a garbage collection is already running' },
  /** A prefetch run for other images is running; one for the same images is joined. */
  PREFETCH_IN_PROGRESS: { code: 'UNSUPPORTED', status: 409, message: 'a prefetch run is already running' },
  /** Pinned content cannot be evicted, and a pin from the config cannot be removed through the API. */
  PINNED: { code: 'DENIED', status: 409, message: 'the image is pinned' },
  // Requests refused before routing: by Node's HTTP parser or by the framework.
  REQUEST_MALFORMED: { code: 'UNSUPPORTED', status: 400, message: 'malformed HTTP request' },
  REQUEST_TIMEOUT: { code: 'UNSUPPORTED', status: 408, message: 'the request was not received in time' },
  HEADERS_TOO_LARGE: { code: 'SIZE_INVALID', status: 431, message: 'request header section too large' },
  MEDIA_TYPE_INVALID: { code: 'UNSUPPORTED', status: 415, message: 'malformed Content-Type' },
  EXPECTATION_FAILED: { code: 'UNSUPPORTED', status: 417, message: 'expectation not supported' },
  HTTP_VERSION_UNSUPPORTED: { code: 'UNSUPPORTED', status: 505, message: 'HTTP version not supported' },

  // 5xx: our own codes.
  INTERNAL_ERROR: { code: 'INTERNAL_ERROR', status: 500, message: 'internal error' },
  UPSTREAM_UNAVAILABLE: { code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'upstream registry unavailable' },
  /** The upstream did not answer within `upstreams.<name>.requestDeadline`. */
  UPSTREAM_TIMEOUT: { code: 'UPSTREAM_TIMEOUT', status: 504, message: 'upstream registry did not answer in time' },
  UNAVAILABLE: { code: 'UNAVAILABLE', status: 503, message: 'service unavailable' },
  /** The data directory's device is full (ENOSPC/EDQUOT): nothing was stored, the space it took is freed. */
  STORAGE_FULL: { code: 'STORAGE_FULL', status: 507, message: 'the registry has no space left to store this' },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorKind = keyof typeof ERRORS;

export interface ErrorBody {
  errors: Array<{ code: string; message: string; detail: unknown }>;
}

export class RegistryError extends Error {
  /** The code the body carries: a specification code for every 4xx. */
  readonly code: (typeof ERRORS)[ErrorKind]['code'];
  readonly status: number;
  /** Extra response headers the error needs (Range on 416, Retry-After on 503, Allow on 405). */
  readonly headers: Record<string, string>;

  constructor(
    readonly kind: ErrorKind,
    readonly detail?: unknown,
    options: { message?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(options.message ?? ERRORS[kind].message, { cause: options.cause });
    this.name = 'RegistryError';
    this.code = ERRORS[kind].code;
    this.status = ERRORS[kind].status;
    this.headers = options.headers ?? {};
  }

  toJSON(): ErrorBody {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail ?? null }] };
  }
}
