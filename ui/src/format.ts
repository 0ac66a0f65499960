import { formatBytes as bytesText } from '../../src/format-bytes.js';

/** 1536000 → "1.5 MB" (decimal units, as registries and Docker show sizes); "—" when unknown. */
export const formatBytes = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? '—' : bytesText(bytes));

/** "3 min ago", "2 days ago"; "never" for null. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 0) return `in ${formatDuration(-seconds)}`;
  if (seconds < 5) return 'just now';
  return `${formatDuration(seconds)} ago`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  const days = Math.round(hours / 24);
  if (days < 60) return `${days} days`;
  const months = Math.round(days / 30);
  return months < 24 ? `${months} months` : `${Math.round(days / 365)} years`;
}

/** Absolute date for tooltips. */
export const formatDate = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '');

/** sha256:0123456789ab… (the first 12 hex digits identify a digest in practice). */
export const shortDigest = (digest: string): string => {
  const [algorithm, hex] = digest.split(':');
  return `${algorithm}:${(hex ?? '').slice(0, 12)}`;
};

export const formatPercent = (ratio: number | null): string => (ratio === null ? '—' : `${(ratio * 100).toFixed(ratio >= 0.995 || ratio === 0 ? 0 : 1)} %`);

export const formatCount = (n: number): string => n.toLocaleString('en-US');

/** The last path segment of a media type, for compact tables. */
export const shortMediaType = (mediaType: string): string =>
  mediaType.replace(/^application\/vnd\.(oci\.image|docker\.image\.rootfs|docker\.container\.image|docker\.distribution)\./, '').replace(/^application\//, '');
