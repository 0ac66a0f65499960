import { RegistryError } from '../../oci/errors.js';
import type { Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { HandlerContext } from './context.js';

const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

/** `n` and `last` pagination over a sorted list, with the spec's `Link: <…>; rel="next"`. */
function paginate(
  ctx: HandlerContext<unknown>,
  all: string[],
  basePath: string,
): string[] {
  const { query, reply } = ctx;
  let n = DEFAULT_PAGE;
  if (query.n !== undefined) {
    n = Number(query.n);
    if (!Number.isInteger(n) || n < 0) throw new RegistryError('PAGINATION_NUMBER_INVALID', { n: query.n });
    n = Math.min(n, MAX_PAGE);
  }
  const last = query.last;
  const start = last === undefined ? 0 : all.findIndex((item) => item > last);
  const rest = start < 0 ? [] : all.slice(start);
  const page = rest.slice(0, n);
  if (rest.length > n && page.length > 0) {
    const next = new URLSearchParams({ n: String(n), last: page.at(-1)! });
    reply.header('Link', `<${basePath}?${next.toString()}>; rel="next"`);
  }
  return page;
}

export async function listTags(ctx: HandlerContext<{ name: string }>): Promise<void> {
  const tags = paginate(ctx, await ctx.repository.listTags(), `/v2/${ctx.path.name}/tags/list`);
  ctx.reply.header('Content-Type', 'application/json').send({ name: ctx.path.name, tags });
}

export async function listCatalog(ctx: Omit<HandlerContext<unknown>, 'repository'>): Promise<void> {
  // Filtered before paginating, so `n`, `last` and `Link` count only what the caller may see.
  const visible = (await ctx.registry.catalog()).filter((name) => ctx.mayPull(name));
  const repositories = paginate(ctx as HandlerContext<unknown>, visible, '/v2/_catalog');
  ctx.reply.header('Content-Type', 'application/json').send({ repositories });
}

/**
 * `GET /v2/tags/list?n=&last=`: every repository of the catalog with its stored tags, in one call,
 * paged by repository like the catalog (`n` repositories after `last`, `Link` to the next page).
 * Cached repositories list the tags cached here: no upstream is asked.
 */
export async function listAllTags(ctx: Omit<HandlerContext<unknown>, 'repository'>): Promise<void> {
  const entries = (await ctx.registry.catalogEntries()).filter((entry) => ctx.mayPull(entry.name));
  const page = paginate(ctx as HandlerContext<unknown>, entries.map((e) => e.name), '/v2/tags/list');
  const keys = new Map(entries.map((e) => [e.name, e.key]));
  const repositories = await Promise.all(page.map(async (name) => ({ name, tags: await ctx.registry.storedTags(keys.get(name)!) })));
  ctx.reply.header('Content-Type', 'application/json').send({ repositories });
}

export async function listReferrers(ctx: HandlerContext<{ name: string; digest: Digest }>): Promise<void> {
  const { query, reply, repository, path } = ctx;
  const list = await repository.listReferrers(path.digest);
  let manifests = list.manifests;
  if (list.stale) reply.header('Warning', '299 - "Response is stale: the upstream registry is unavailable"');
  // Applied here for every repository: a proxied list is always fetched unfiltered, so whether or
  // not an upstream filters, the answer and its OCI-Filters-Applied are Stowage's own.
  if (query.artifactType !== undefined) {
    manifests = manifests.filter((d) => d.artifactType === query.artifactType);
    reply.header('OCI-Filters-Applied', 'artifactType');
  }
  // A Buffer, not a string: Fastify appends `; charset=utf-8` to string bodies, and clients compare
  // the referrers Content-Type with the OCI index media type exactly.
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
  reply.header('Content-Type', MediaType.OciIndex).send(body);
}
