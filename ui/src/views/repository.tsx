import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, repoPath } from '../api';
import { formatAgo, formatBytes, formatCount, formatDate, shortDigest } from '../format';
import { manifestHref } from '../router';
import { Confirm } from '../components/confirm';
import { PullCommands } from '../components/pull-commands';
import { EmptyState, ErrorState, Loading } from '../components/states';
import { Badge, Pager, SortHeader, type SortState } from '../components/table';
import type { Info, TagList, TagRow } from '../types';
import { useApi } from '../use-api';

const PAGE = 100;

/** One repository: its figures, pull commands, and its tags (search, sort, pages, delete, refresh). */
export function RepositoryView({ name, info }: { name: string; info: Info | null }) {
  const [sort, setSort] = useState<SortState>({ sort: 'name', order: 'asc' });
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [pending, setPending] = useState<TagRow | null>(null);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);

  useEffect(() => setCursors([]), [q, sort.sort, sort.order, name]);
  useEffect(() => {
    const timer = setTimeout(() => setQ(text), 200);
    return () => clearTimeout(timer);
  }, [text]);

  const params = new URLSearchParams({ limit: String(PAGE), sort: sort.sort, order: sort.order });
  if (q) params.set('q', q);
  const cursor = cursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  const { data, error, loading, reload } = useApi<TagList>(`repositories/${repoPath(name)}/tags?${params}`);

  const remove = async (row: TagRow): Promise<void> => {
    setPending(null);
    try {
      await api(`repositories/${repoPath(name)}/tags/${encodeURIComponent(row.tag)}`, { method: 'DELETE' });
      setNotice({ kind: 'ok', text: `Deleted tag ${row.tag}.` });
      reload();
    } catch (e) {
      setNotice({ kind: 'error', text: `Could not delete ${row.tag}: ${(e as ApiError).message}` });
    }
  };
  const refresh = async (row: TagRow): Promise<void> => {
    try {
      const result = await api<{ changed: boolean; stale: boolean; digest: string }>(`repositories/${repoPath(name)}/tags/${encodeURIComponent(row.tag)}/refresh`, { method: 'POST' });
      setNotice({
        kind: result.stale ? 'error' : 'ok',
        text: result.stale ? `${row.tag}: the upstream is unreachable; the cached version is still served.` : result.changed ? `${row.tag} moved to ${shortDigest(result.digest)}.` : `${row.tag} is up to date.`,
      });
      reload();
    } catch (e) {
      setNotice({ kind: 'error', text: `Could not refresh ${row.tag}: ${(e as ApiError).message}` });
    }
  };

  if (error && !data) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading />;
  const current = data.tags.find((t) => t.tag === selected) ?? data.tags.find((t) => t.tag === 'latest') ?? data.tags[0];
  const cached = data.kind === 'cached';
  const columns = (s: SortState) => setSort(s);

  return (
    <section>
      <header class="page-header">
        <h1 class="repo-name">{data.name}</h1>
        {cached ? <Badge kind="cached">cached · {data.upstream}</Badge> : <Badge kind="hosted">hosted</Badge>}
      </header>
      <dl class="figures">
        <div><dt>Tags</dt><dd>{formatCount(data.tagCount)}</dd></div>
        <div><dt>Size</dt><dd>{formatBytes(data.size)}</dd></div>
        <div><dt>Stored here</dt><dd>{formatBytes(data.storedBytes)}</dd></div>
        <div><dt>Pulls</dt><dd>{formatCount(data.pulls)}</dd></div>
        <div><dt>Last pulled</dt><dd title={formatDate(data.lastPulledAt)}>{formatAgo(data.lastPulledAt)}</dd></div>
        <div><dt>{cached ? 'Last cached' : 'Last pushed'}</dt><dd title={formatDate(data.updatedAt)}>{formatAgo(data.updatedAt)}</dd></div>
      </dl>
      {cached && <p class="hint">Only tags pulled through Stowage are listed: browsing never asks {data.upstream} (a manifest request counts as a pull there).</p>}
      {info && current && <PullCommands info={info} repo={data} tag={current.tag} digest={current.digest} />}
      {notice && <p class={`notice notice-${notice.kind}`} role="status">{notice.text}</p>}
      <div class="toolbar">
        <h2>Tags</h2>
        <label class="search">
          <span class="visually-hidden">Search tags</span>
          <input id="search" type="search" placeholder="Search tags  (press / )" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} autocomplete="off" spellcheck={false} />
        </label>
      </div>
      {error && <ErrorState error={error} retry={reload} />}
      {data.total === 0 ? (
        <EmptyState title={q ? 'No tag matches' : 'No tags'}>
          <p>{q ? <>Nothing matches <q>{q}</q>.</> : cached ? 'Nothing of this repository is cached any more.' : 'Every tag was deleted; manifests may still be addressable by digest.'}</p>
        </EmptyState>
      ) : (
        <>
          <table class="table tags" aria-busy={loading}>
            <thead>
              <tr>
                <SortHeader column="name" label="Tag" state={sort} onSort={columns} defaultOrder="asc" />
                <SortHeader column="type" label="Type" state={sort} onSort={columns} class="wide" defaultOrder="asc" />
                <SortHeader column="platforms" label="Platforms" state={sort} onSort={columns} class="wide" />
                <SortHeader column="size" label="Size" state={sort} onSort={columns} class="num" />
                <SortHeader column="created" label="Created" state={sort} onSort={columns} class="wide" />
                <SortHeader column="pushed" label={cached ? 'Cached' : 'Pushed'} state={sort} onSort={columns} class="wide" />
                <SortHeader column="pulled" label="Last pulled" state={sort} onSort={columns} class="wide" />
                <SortHeader column="pulls" label="Pulls" state={sort} onSort={columns} class="num" />
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {data.tags.map((t) => (
                <tr class={t.tag === current?.tag ? 'selected' : ''}>
                  <td class="name">
                    <a href={manifestHref(data.name, t.tag)}>{t.tag}</a>
                    {t.signed && <Badge kind="signed" title="signed: a signature refers to this manifest">signed</Badge>}
                    {t.pinned && <Badge kind="pinned" title="pinned: never evicted from the cache">pinned</Badge>}
                    {t.stale && <Badge kind="stale" title="past its TTL and the upstream is failing: served stale">stale</Badge>}
                    <div class="digest">{shortDigest(t.digest)}</div>
                  </td>
                  <td class="wide">{t.type}</td>
                  <td class="wide platforms">{t.platforms.length === 0 ? '—' : t.platforms.join(', ')}{t.type === 'index' && t.platformsCached < t.platforms.length ? <span class="muted"> ({t.platformsCached} cached)</span> : null}</td>
                  <td class="num">{formatBytes(t.size)}</td>
                  <td class="wide" title={formatDate(t.created)}>{t.created ? formatAgo(t.created) : <span class="muted">not cached</span>}</td>
                  <td class="wide" title={cached && t.revalidatedAt ? `revalidated ${formatDate(t.revalidatedAt)}` : formatDate(t.updatedAt)}>{formatAgo(t.updatedAt)}</td>
                  <td class="wide" title={formatDate(t.lastPulledAt)}>{formatAgo(t.lastPulledAt)}</td>
                  <td class="num">{formatCount(t.pulls)}</td>
                  <td class="actions">
                    <button type="button" class="button small" onClick={() => setSelected(t.tag)} aria-label={`Pull commands for ${t.tag}`}>Pull</button>
                    {data.permissions.refresh && <button type="button" class="button small" onClick={() => refresh(t)} aria-label={`Refresh ${t.tag}`}>Refresh</button>}
                    {data.permissions.delete && <button type="button" class="button small danger" onClick={() => setPending(t)} aria-label={`Delete ${t.tag}`}>Delete</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            noun={['tag', 'tags']}
            page={cursors.length}
            total={data.total}
            shown={data.tags.length}
            hasNext={data.nextCursor !== null}
            onPrevious={() => setCursors((c) => c.slice(0, -1))}
            onNext={() => data.nextCursor && setCursors((c) => [...c, data.nextCursor!])}
          />
        </>
      )}
      {pending && <Confirm message={`Delete tag ${pending.tag} from ${data.name}?`} action="Delete" onConfirm={() => remove(pending)} onCancel={() => setPending(null)} />}
    </section>
  );
}
