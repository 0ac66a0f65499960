import { useEffect, useRef, useState } from 'preact/hooks';
import { formatAgo, formatBytes, formatCount, formatDate } from '../format';
import { BASE, navigate, repositoryHref } from '../router';
import { Badge, Pager, SortHeader, type SortState } from '../components/table';
import { EmptyState, ErrorState, Loading } from '../components/states';
import type { Info, RepositoryList } from '../types';
import { useApi } from '../use-api';

const PAGE = 50;

/** The repositories view: search (`/` focuses it), filters and sort live in the URL. */
export function RepositoriesView({ query, info }: { query: URLSearchParams; info: Info | null }) {
  const q = query.get('q') ?? '';
  const kind = query.get('kind') ?? '';
  const upstream = query.get('upstream') ?? '';
  const sort: SortState = { sort: query.get('sort') ?? 'name', order: (query.get('order') as 'asc' | 'desc' | null) ?? (query.get('sort') && query.get('sort') !== 'name' ? 'desc' : 'asc') };
  const [text, setText] = useState(q);
  const [cursors, setCursors] = useState<string[]>([]);
  const search = useRef<HTMLInputElement>(null);

  const update = (changes: Record<string, string>, replace = false): void => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const qs = next.toString();
    navigate(`${BASE}/${qs ? `?${qs}` : ''}`, { replace });
  };

  // A new filter or sort starts again on page one.
  const filterKey = `${q}|${kind}|${upstream}|${sort.sort}|${sort.order}`;
  useEffect(() => setCursors([]), [filterKey]);
  // Typing searches after a short pause, without a history entry per key.
  useEffect(() => {
    if (text === q) return;
    const timer = setTimeout(() => update({ q: text }, true), 200);
    return () => clearTimeout(timer);
  }, [text]);

  const params = new URLSearchParams({ limit: String(PAGE), sort: sort.sort, order: sort.order });
  if (q) params.set('q', q);
  if (kind) params.set('kind', kind);
  if (upstream) params.set('upstream', upstream);
  const cursor = cursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  const { data, error, loading, reload } = useApi<RepositoryList>(`repositories?${params}`);
  const filtered = q !== '' || kind !== '' || upstream !== '';

  return (
    <section>
      <div class="toolbar">
        <h1>Repositories</h1>
        <form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); update({ q: text }); }}>
          <label class="search">
            <span class="visually-hidden">Search repositories</span>
            <input
              ref={search}
              id="search"
              type="search"
              placeholder="Search  (press / )"
              value={text}
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
              autocomplete="off"
              spellcheck={false}
            />
          </label>
          <label>
            <span class="visually-hidden">Kind</span>
            <select value={kind} onChange={(e) => update({ kind: (e.target as HTMLSelectElement).value })} aria-label="Kind">
              <option value="">Hosted and cached</option>
              <option value="hosted">Hosted</option>
              <option value="cached">Cached</option>
            </select>
          </label>
          {info && info.upstreams.length > 0 && (
            <label>
              <span class="visually-hidden">Upstream</span>
              <select value={upstream} onChange={(e) => update({ upstream: (e.target as HTMLSelectElement).value })} aria-label="Upstream">
                <option value="">Every upstream</option>
                {info.upstreams.map((u) => (
                  <option value={u}>{u}</option>
                ))}
              </select>
            </label>
          )}
        </form>
      </div>
      {error && <ErrorState error={error} retry={reload} />}
      {!error && !data && loading && <Loading />}
      {data && data.total === 0 && !filtered && (
        <EmptyState title="Nothing cached yet">
          <p>Pull an image through Stowage and it shows here, for example:</p>
          <pre class="command">docker pull {info?.registry ?? location.host}/docker.io/library/alpine:latest</pre>
          <p>Push to a hosted repository ({info?.hosted.join(', ') || 'none configured'}) to see it here too.</p>
        </EmptyState>
      )}
      {data && data.total === 0 && filtered && (
        <EmptyState title="No repository matches">
          <p>Nothing matches {q ? <q>{q}</q> : 'these filters'}. Search is a substring, or a pattern with <code>*</code> and <code>?</code>.</p>
        </EmptyState>
      )}
      {data && data.total > 0 && (
        <>
          <table class="table repositories" aria-busy={loading}>
            <thead>
              <tr>
                <SortHeader column="name" label="Name" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} defaultOrder="asc" />
                <th scope="col" class="wide">Kind</th>
                <SortHeader column="tags" label="Tags" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} class="num" />
                <SortHeader column="size" label="Size" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} class="num" />
                <SortHeader column="pushed" label="Pushed / cached" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} class="wide" />
                <SortHeader column="pulled" label="Last pulled" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} class="wide" />
                <SortHeader column="pulls" label="Pulls" state={sort} onSort={(s) => update(s as unknown as Record<string, string>)} class="num" />
              </tr>
            </thead>
            <tbody>
              {data.repositories.map((r) => (
                <tr>
                  <td class="name">
                    <a href={repositoryHref(r.name)}>{r.name}</a>
                  </td>
                  <td class="wide">{r.kind === 'hosted' ? <Badge kind="hosted">hosted</Badge> : <Badge kind="cached" title={`cached from ${r.upstream}`}>cached · {r.upstream}</Badge>}</td>
                  <td class="num">{formatCount(r.tagCount)}</td>
                  <td class="num" title={r.storedBytes < r.size ? `${formatBytes(r.storedBytes)} stored here` : undefined}>{formatBytes(r.size)}</td>
                  <td class="wide" title={formatDate(r.updatedAt)}>{formatAgo(r.updatedAt)}</td>
                  <td class="wide" title={formatDate(r.lastPulledAt)}>{formatAgo(r.lastPulledAt)}</td>
                  <td class="num">{formatCount(r.pulls)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            noun={['repository', 'repositories']}
            page={cursors.length}
            total={data.total}
            shown={data.repositories.length}
            hasNext={data.nextCursor !== null}
            onPrevious={() => setCursors((c) => c.slice(0, -1))}
            onNext={() => data.nextCursor && setCursors((c) => [...c, data.nextCursor!])}
          />
        </>
      )}
    </section>
  );
}
