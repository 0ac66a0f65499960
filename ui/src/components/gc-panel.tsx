import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { formatAgo, formatBytes, formatCount, formatDate } from '../format';
import type { GcReport, GcStatus, Session } from '../types';
import { useApi } from '../use-api';
import { Confirm } from './confirm';

/**
 * The last garbage collection run and, for admins, buttons to start one: a dry run lists what
 * would go; a real run asks for confirmation first. Either answers with the run's report.
 */
export function GcPanel({ gc, changed }: { gc: GcStatus; changed: () => void }) {
  const session = useApi<Session>('session');
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [report, setReport] = useState<GcReport | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const run = async (dryRun: boolean): Promise<void> => {
    setConfirming(false);
    setBusy(true);
    setFailure(null);
    try {
      setReport(await api<GcReport>(`gc${dryRun ? '?dryRun=true' : ''}`, { method: 'POST' }));
      changed();
    } catch (e) {
      setFailure(`Garbage collection did not run: ${(e as ApiError).message}`);
    } finally {
      setBusy(false);
    }
  };
  const last = report ?? gc.last;
  return (
    <section class="panel" data-section="gc">
      <h2>Garbage collection</h2>
      {gc.running || busy ? <p data-figure="gc-running">A run is in progress…</p> : null}
      {last ? (
        <p data-figure="gc-last">
          {last.dryRun ? 'Dry run' : 'Last run'} <span title={formatDate(last.finishedAt)}>{formatAgo(last.finishedAt)}</span>
          {last.repository ? ` (${last.repository})` : ''}: {last.dryRun ? 'would remove' : 'removed'} {formatCount(last.manifestsRemoved)} manifests,{' '}
          {formatCount(last.tagsRemoved)} tags and {formatCount(last.blobsRemoved)} blobs ({formatBytes(last.bytesReclaimed)}) in {formatCount(last.durationMs)} ms
          {last.blobsReturnedToCache > 0 ? `; ${formatCount(last.blobsReturnedToCache)} blobs went back to the cache` : ''}
          {last.spared > 0 ? `; ${formatCount(last.spared)} spared because clients used them meanwhile` : ''}
          {last.error ? ` — failed: ${last.error}` : ''}
        </p>
      ) : (
        <p class="muted">No run since this process started.</p>
      )}
      {report && report.removed.tags.length + report.removed.manifests.length > 0 && (
        <ul class="plain gc-removed">
          {report.removed.tags.map((t) => <li>tag <code>{t.repository}:{t.tag}</code></li>)}
          {report.removed.manifests.map((m) => <li>manifest <code>{m.repository}@{m.digest}</code></li>)}
        </ul>
      )}
      {failure && <p class="notice notice-error" role="alert">{failure}</p>}
      {session.data?.admin && (
        <div class="state-actions">
          <button type="button" class="button" disabled={busy || gc.running} onClick={() => void run(true)}>Dry run</button>
          <button type="button" class="button danger" disabled={busy || gc.running} onClick={() => setConfirming(true)}>Collect garbage</button>
        </div>
      )}
      {confirming && (
        <Confirm
          message="Remove what no hosted tag reaches (and what the retention rules say) now? Content clients are using is kept."
          action="Collect"
          onConfirm={() => void run(false)}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}
