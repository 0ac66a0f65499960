/** Human-friendly sizes (`4MiB`, `50GiB`, `1.5GB`, `1024`) and durations (`500ms`, `5m`, `24h`, `7d`). */
const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4,
};
const DURATION_UNITS: Record<string, number> = { ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseWithUnits(value: unknown, units: Record<string, number>): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!match) return null;
  const factor = units[match[2]!.toLowerCase()];
  return factor === undefined ? null : Math.round(Number(match[1]) * factor);
}

/** Bytes, or null when the value is not a size. Plain numbers are bytes. */
export const parseSize = (value: unknown): number | null => parseWithUnits(value, SIZE_UNITS);

/** Milliseconds, or null when the value is not a duration. Plain numbers are seconds. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : null;
  return parseWithUnits(value, DURATION_UNITS);
}
