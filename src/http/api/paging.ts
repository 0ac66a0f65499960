import { RegistryError } from '../../oci/errors.js';

/** A sortable column: its value for a row; null sorts before every value (after, descending). */
export type SortColumns<T> = Record<string, (row: T) => string | number | null>;

export interface PageRequest {
  sort: string;
  order: 'asc' | 'desc';
  cursor: string | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
  /** Rows matching the filters, on every page. */
  total: number;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

const invalid = (parameter: string, value: unknown, message: string): RegistryError =>
  new RegistryError('PARAMETER_INVALID', { parameter, value }, { message });

/**
 * Reads `sort`, `order`, `cursor` and `limit`. `sort` must name a column; `order` defaults to
 * ascending for `defaultSort` (names) and descending for the others (dates, sizes, counts: the
 * biggest first is what people look for).
 */
export function pageRequest(query: Record<string, string | undefined>, columns: SortColumns<never>, defaultSort: string): PageRequest {
  const sort = query.sort ?? defaultSort;
  if (!Object.hasOwn(columns, sort)) {
    throw new RegistryError('PARAMETER_INVALID', { parameter: 'sort', value: sort, supported: Object.keys(columns) }, { message: `cannot sort by ${sort}` });
  }
  const order = query.order ?? (sort === defaultSort ? 'asc' : 'desc');
  if (order !== 'asc' && order !== 'desc') {
    throw new RegistryError('PARAMETER_INVALID', { parameter: 'order', value: order, supported: ['asc', 'desc'] }, { message: 'order is asc or desc' });
  }
  let limit = DEFAULT_LIMIT;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!/^\d+$/.test(query.limit) || limit < 1) throw invalid('limit', query.limit, 'limit must be a positive integer');
    limit = Math.min(limit, MAX_LIMIT);
  }
  return { sort, order, cursor: query.cursor ?? null, limit };
}

/**
 * Keyset pagination: rows ordered by (sort value, name), and a cursor that holds the last row's
 * (sort value, name) — not an offset — so a page starts right after the row the previous page
 * ended with even when rows were added or removed meanwhile: nothing is skipped or repeated.
 */
export function paginate<T>(rows: readonly T[], columns: SortColumns<T>, nameOf: (row: T) => string, request: PageRequest): Page<T> {
  const valueOf = columns[request.sort]!;
  const sign = request.order === 'asc' ? 1 : -1;
  // Ties are broken by name, always A to Z: the order a person expects among equals.
  const compareKeys = (av: string | number | null, an: string, bv: string | number | null, bn: string): number =>
    sign * compareValues(av, bv) || compareValues(an, bn);
  const keyed = rows.map((row) => ({ row, value: valueOf(row), name: nameOf(row) }));
  keyed.sort((a, b) => compareKeys(a.value, a.name, b.value, b.name));
  let start = 0;
  if (request.cursor !== null) {
    const after = decodeCursor(request.cursor, request);
    start = firstAfter(keyed, (k) => compareKeys(k.value, k.name, after.value, after.name) > 0);
  }
  const items = keyed.slice(start, start + request.limit);
  const last = items.at(-1);
  const more = start + request.limit < keyed.length;
  return {
    items: items.map((k) => k.row),
    nextCursor: more && last ? encodeCursor(request, last.value, last.name) : null,
    total: keyed.length,
  };
}

function compareValues(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Binary search in the sorted rows for the first one `isAfter` holds for. */
function firstAfter<K>(sorted: readonly K[], isAfter: (k: K) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (isAfter(sorted[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function encodeCursor(request: PageRequest, value: string | number | null, name: string): string {
  return Buffer.from(JSON.stringify([request.sort, request.order, value, name])).toString('base64url');
}

/** A cursor only continues the listing it came from: same sort column and order. */
function decodeCursor(cursor: string, request: PageRequest): { value: string | number | null; name: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('cursor', cursor.slice(0, 100), 'cursor is not one this API issued');
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw invalid('cursor', cursor.slice(0, 100), 'cursor is not one this API issued');
  const [sort, order, value, name] = parsed as unknown[];
  if (sort !== request.sort || order !== request.order) {
    throw invalid('cursor', cursor.slice(0, 100), 'cursor belongs to another sort order; start again without it');
  }
  if (typeof name !== 'string' || !(value === null || typeof value === 'string' || typeof value === 'number')) {
    throw invalid('cursor', cursor.slice(0, 100), 'cursor is not one this API issued');
  }
  return { value, name };
}

/**
 * `q` as a case-insensitive match on names: a glob when it has `*` (any characters, `/` included)
 * or `?` (one character), matched against the whole name; otherwise a substring.
 */
export function nameMatcher(q: string | undefined): (name: string) => boolean {
  if (q === undefined || q.trim() === '') return () => true;
  const query = q.trim().toLowerCase().slice(0, 256);
  if (!/[*?]/.test(query)) return (name) => name.toLowerCase().includes(query);
  const source = query.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const pattern = new RegExp(`^${source}$`);
  return (name) => pattern.test(name.toLowerCase());
}
