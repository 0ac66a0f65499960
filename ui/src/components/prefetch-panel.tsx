import { formatAgo, formatBytes, formatDate } from '../format';
import type { PrefetchStatus } from '../types';
import { Badge } from './table';

/** The prefetch run in progress (bytes done of total per image), else the last one. */
export function PrefetchPanel({ prefetch }: { prefetch: PrefetchStatus }) {
  const run = prefetch.run;
  return (
    <section class="panel" data-section="prefetch">
      <h2>Prefetch</h2>
      {!run ? (
        <p class="muted">No run since this process started.</p>
      ) : (
        <>
          <p class="muted">
            {prefetch.running ? 'Running since ' : 'Last run '}
            <span title={formatDate(run.startedAt)}>{formatAgo(run.startedAt)}</span> ({run.trigger})
          </p>
          <ul class="plain fills">
            {run.images.map((image) => (
              <li data-state={image.state}>
                <code>{image.ref}</code> {image.pinned && <Badge kind="pinned">pinned</Badge>}{' '}
                {image.state === 'done' ? (
                  <Badge kind="ok">fetched</Badge>
                ) : image.state === 'failed' || image.state === 'skipped' ? (
                  <Badge kind="stale" title={image.error ?? undefined}>{image.state}</Badge>
                ) : (
                  <Badge kind="type">{image.state}</Badge>
                )}{' '}
                {formatBytes(image.bytesDone)}
                {image.bytesTotal > 0 ? ` of ${formatBytes(image.bytesTotal)}` : ''}
                {image.state === 'fetching' && image.bytesTotal > 0 && <progress max={image.bytesTotal} value={image.bytesDone} aria-label={`prefetch of ${image.ref}`} />}
                {image.error && <span class="muted"> — {image.error}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
