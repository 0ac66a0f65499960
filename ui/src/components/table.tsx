import type { ComponentChildren } from 'preact';

export interface SortState {
  sort: string;
  order: 'asc' | 'desc';
}

/** A column header that sorts by its column: a button, so the keyboard reaches it. */
export function SortHeader({ column, label, state, onSort, class: className, defaultOrder = 'desc' }: { column: string; label: string; state: SortState; onSort: (s: SortState) => void; class?: string; defaultOrder?: 'asc' | 'desc' }) {
  const active = state.sort === column;
  const next: SortState = active ? { sort: column, order: state.order === 'asc' ? 'desc' : 'asc' } : { sort: column, order: defaultOrder };
  return (
    <th class={className} aria-sort={active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'} scope="col">
      <button type="button" class="sort" onClick={() => onSort(next)}>
        {label}
        <span class="sort-mark" aria-hidden="true">{active ? (state.order === 'asc' ? '▲' : '▼') : ''}</span>
      </button>
    </th>
  );
}

/** Previous / next over keyset pages: the cursors of the pages seen so far are a stack. */
export function Pager({ page, total, shown, hasNext, onPrevious, onNext, noun }: { page: number; total: number; shown: number; hasNext: boolean; onPrevious: () => void; onNext: () => void; noun: [string, string] }) {
  return (
    <nav class="pager" aria-label="Pages">
      <span class="pager-info">{total.toLocaleString('en-US')} {total === 1 ? noun[0] : noun[1]}{total > shown || page > 0 ? ` · page ${page + 1}` : ''}</span>
      <button type="button" class="button small" disabled={page === 0} onClick={onPrevious}>Previous</button>
      <button type="button" class="button small" disabled={!hasNext} onClick={onNext}>Next</button>
    </nav>
  );
}

export function Badge({ kind, children, title }: { kind: string; children: ComponentChildren; title?: string }) {
  return <span class={`badge badge-${kind}`} title={title}>{children}</span>;
}
