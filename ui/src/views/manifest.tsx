import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, repoPath } from '../api';
import { formatAgo, formatBytes, formatCount, formatDate, shortDigest, shortMediaType } from '../format';
import { manifestHref, navigate, repositoryHref } from '../router';
import { Confirm } from '../components/confirm';
import { CopyButton } from '../components/copy-button';
import { PullCommands } from '../components/pull-commands';
import { EmptyState, ErrorState, Loading } from '../components/states';
import { Badge } from '../components/table';
import type { Info, ManifestDetail } from '../types';
import { useApi } from '../use-api';

/** One manifest: an index with its platform selector, or an image with layers, config and history. */
export function ManifestView({ name, reference, info }: { name: string; reference: string; info: Info | null }) {
  const { data, error, reload } = useApi<ManifestDetail>(`repositories/${repoPath(name)}/manifests/${encodeURIComponent(reference)}`);
  const [platform, setPlatform] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => setPlatform(null), [name, reference]);
  const togglePin = async (): Promise<void> => {
    setFailure(null);
    try {
      await api(`repositories/${repoPath(name)}/manifests/${encodeURIComponent(reference)}/pin`, { method: data!.pinned ? 'DELETE' : 'POST' });
      reload();
    } catch (e) {
      setFailure(`Could not ${data!.pinned ? 'unpin' : 'pin'}: ${(e as ApiError).message}`);
    }
  };
  const evict = async (): Promise<void> => {
    setConfirming(false);
    try {
      await api(`repositories/${repoPath(name)}/manifests/${encodeURIComponent(data!.digest)}/evict`, { method: 'POST' });
      navigate(repositoryHref(name));
    } catch (e) {
      setFailure(`Could not evict: ${(e as ApiError).message}`);
    }
  };

  if (error && !data) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading />;
  const isIndex = data.type === 'index' || data.platforms.length > 0;
  const choice = isIndex ? (data.platforms.find((p) => p.digest === platform) ?? data.platforms.find((p) => p.cached) ?? data.platforms[0]) : undefined;
  const tag = reference.includes(':') ? data.tags[0] : reference;
  const repo = { name: data.name, kind: data.kind, upstream: data.kind === 'cached' ? data.name.split('/')[0]! : null, remoteName: data.kind === 'cached' ? data.name.split('/').slice(1).join('/') : data.name };

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={repositoryHref(data.name)}>{data.name}</a> <span aria-hidden="true">/</span> <span>{reference.includes(':') ? shortDigest(reference) : reference}</span>
      </nav>
      <header class="page-header">
        <h1 class="repo-name">
          {data.name}
          <span class="ref">{reference.includes(':') ? `@${shortDigest(reference)}` : `:${reference}`}</span>
        </h1>
        <Badge kind="type">{data.type ?? 'unknown'}</Badge>
        {data.signed ? <Badge kind="signed" title="a signature refers to this manifest">signed</Badge> : <Badge kind="unsigned">not signed</Badge>}
        {data.pinned && <Badge kind="pinned" title="never evicted from the cache, whatever its budget">pinned</Badge>}
        {data.permissions.pin && (
          <button type="button" class="button small header-action" onClick={() => void togglePin()}>
            {data.pinned ? 'Unpin' : 'Pin'}
          </button>
        )}
        {data.permissions.evict && !data.pinned && (
          <button type="button" class="button small danger header-action" onClick={() => setConfirming(true)}>
            Evict from cache
          </button>
        )}
      </header>
      {failure && <p class="notice notice-error" role="alert">{failure}</p>}
      {confirming && (
        <Confirm
          message={`Evict ${data.name}@${shortDigest(data.digest)} from the cache? Its stored layers are deleted; the next pull fetches it from ${repo.upstream} again.`}
          action="Evict"
          onConfirm={evict}
          onCancel={() => setConfirming(false)}
        />
      )}
      <dl class="figures">
        <div><dt>Digest</dt><dd class="digest-full"><code>{data.digest}</code> <CopyButton text={data.digest} label="Copy digest" /></dd></div>
        <div><dt>Media type</dt><dd>{shortMediaType(data.mediaType)}</dd></div>
        {data.size !== null && !isIndex && <div><dt>Size</dt><dd>{formatBytes(data.size)}</dd></div>}
        <div><dt>Tags</dt><dd>{data.tags.length ? data.tags.join(', ') : '—'}</dd></div>
        <div><dt>Pulls</dt><dd>{formatCount(data.pulls)}</dd></div>
        <div><dt>Last pulled</dt><dd title={formatDate(data.lastPulledAt)}>{formatAgo(data.lastPulledAt)}</dd></div>
      </dl>
      {info && <PullCommands info={info} repo={repo} tag={tag} digest={data.digest} />}

      {isIndex && (
        <section class="panel">
          <h2>Platforms</h2>
          {data.platforms.length === 0 ? (
            <p class="muted">This index lists no platform.</p>
          ) : (
            <div class="segmented platforms-select" role="group" aria-label="Platform">
              {data.platforms.map((p) => (
                <button type="button" class={p.digest === choice?.digest ? 'active' : ''} aria-pressed={p.digest === choice?.digest} onClick={() => setPlatform(p.digest)}>
                  {p.platform}
                  {!p.cached && <span class="muted"> · not cached</span>}
                </button>
              ))}
            </div>
          )}
          {data.attestations.length > 0 && (
            <p class="muted">{data.attestations.length} attestation manifest{data.attestations.length === 1 ? '' : 's'} (BuildKit provenance / SBOM), not platforms.</p>
          )}
          {choice && (choice.cached ? <ChildImage name={data.name} digest={choice.digest} /> : (
            <EmptyState title={`${choice.platform} is not cached`}>
              <p>No client pulled this platform through Stowage yet, so its layers and config are not stored. Browsing does not fetch it (that would count as a pull upstream).</p>
              <p>
                Digest <code>{choice.digest}</code> · manifest {formatBytes(choice.size)}
              </p>
            </EmptyState>
          ))}
        </section>
      )}
      {!isIndex && <ImageDetails data={data} />}
      <Referrers data={data} />
      <Raw data={data} />
    </section>
  );
}

function ChildImage({ name, digest }: { name: string; digest: string }) {
  const { data, error, reload } = useApi<ManifestDetail>(`repositories/${repoPath(name)}/manifests/${encodeURIComponent(digest)}`);
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data || data.digest !== digest) return <Loading />;
  return (
    <div class="child">
      <p>
        <a href={manifestHref(name, digest)}>{shortDigest(digest)}</a> · {formatBytes(data.size)} · {formatCount(data.pulls)} pulls
      </p>
      <ImageDetails data={data} />
    </div>
  );
}

function ImageDetails({ data }: { data: ManifestDetail }) {
  const config = data.config;
  return (
    <>
      <section class="panel">
        <h2>Layers <span class="muted">({data.layers.length}, {formatBytes(data.layers.reduce((s, l) => s + l.size, 0))})</span></h2>
        {data.layers.length === 0 ? (
          <p class="muted">No layers.</p>
        ) : (
          <table class="table layers">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Digest</th>
                <th scope="col" class="wide">Media type</th>
                <th scope="col" class="num">Size</th>
                <th scope="col" class="wide">Here</th>
              </tr>
            </thead>
            <tbody>
              {data.layers.map((l, i) => (
                <tr>
                  <td>{i + 1}</td>
                  <td class="digest" title={l.digest}>{shortDigest(l.digest)}</td>
                  <td class="wide">{shortMediaType(l.mediaType)}</td>
                  <td class="num">{formatBytes(l.size)}</td>
                  <td class="wide">{l.cached ? 'stored' : <span class="muted">not cached</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="panel">
        <h2>Config</h2>
        {!config ? (
          <p class="muted">This manifest has no config.</p>
        ) : !config.cached ? (
          <p class="muted">The config ({shortDigest(config.digest)}) is not cached: no client fetched it through Stowage yet.</p>
        ) : (
          <dl class="config">
            <div><dt>Created</dt><dd title={formatDate(config.created)}>{config.created ? `${formatDate(config.created)} (${formatAgo(config.created)})` : '—'}</dd></div>
            <div><dt>Platform</dt><dd>{config.platform ?? '—'}</dd></div>
            <div><dt>Entrypoint</dt><dd><code>{config.entrypoint ? JSON.stringify(config.entrypoint) : '—'}</code></dd></div>
            <div><dt>Command</dt><dd><code>{config.cmd ? JSON.stringify(config.cmd) : '—'}</code></dd></div>
            <div><dt>User</dt><dd>{config.user ?? '—'}</dd></div>
            <div><dt>Working dir</dt><dd>{config.workingDir ?? '—'}</dd></div>
            {config.exposedPorts && config.exposedPorts.length > 0 && <div><dt>Ports</dt><dd>{config.exposedPorts.join(', ')}</dd></div>}
            <div><dt>Environment</dt><dd>{config.env?.length ? <ul class="plain">{config.env.map((e) => <li><code>{e}</code></li>)}</ul> : '—'}</dd></div>
            <div><dt>Labels</dt><dd>{config.labels && Object.keys(config.labels).length ? <ul class="plain">{Object.entries(config.labels).map(([k, v]) => <li><code>{k}={v}</code></li>)}</ul> : '—'}</dd></div>
          </dl>
        )}
      </section>
      {data.history && data.history.length > 0 && (
        <section class="panel">
          <h2>History</h2>
          <ol class="history">
            {data.history.map((h) => (
              <li class={h.emptyLayer ? 'empty-layer' : ''}>
                <code>{h.createdBy ?? h.comment ?? '(no command recorded)'}</code>
                <span class="muted" title={formatDate(h.created)}>{h.created ? ` · ${formatAgo(h.created)}` : ''}{h.emptyLayer ? ' · no layer' : ''}</span>
              </li>
            ))}
          </ol>
        </section>
      )}
      {Object.keys(data.annotations).length > 0 && (
        <section class="panel">
          <h2>Annotations</h2>
          <ul class="plain">{Object.entries(data.annotations).map(([k, v]) => <li><code>{k}={v}</code></li>)}</ul>
        </section>
      )}
    </>
  );
}

function Referrers({ data }: { data: ManifestDetail }) {
  if (data.referrers.length === 0 && data.signatureTags.length === 0 && !data.subject) return null;
  return (
    <section class="panel">
      <h2>Signatures and attachments</h2>
      {data.subject && (
        <p>
          Refers to <a href={manifestHref(data.name, data.subject.digest)}>{shortDigest(data.subject.digest)}</a>.
        </p>
      )}
      <ul class="plain referrers">
        {data.referrers.map((r) => (
          <li>
            <Badge kind={r.kind}>{r.kind}</Badge> <a href={manifestHref(data.name, r.digest)}>{shortDigest(r.digest)}</a> <span class="muted">{r.artifactType ?? 'no artifact type'} · {formatBytes(r.size)}</span>
          </li>
        ))}
        {data.signatureTags.map((t) => (
          <li>
            <Badge kind={t.kind}>{t.kind}</Badge> <a href={manifestHref(data.name, t.tag)}>{t.tag}</a> <span class="muted">cosign tag</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Raw({ data }: { data: ManifestDetail }) {
  const text = data.raw === null ? null : JSON.stringify(data.raw, null, 2);
  return (
    <details class="panel raw">
      <summary>Raw manifest</summary>
      {text === null ? <p class="muted">The manifest bytes are not stored any more (evicted).</p> : (
        <>
          <CopyButton text={text} label="Copy JSON" />
          <pre>{text}</pre>
        </>
      )}
    </details>
  );
}
