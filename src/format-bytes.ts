const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/**
 * 1536000 → "1.5 MB": decimal units, as registries and Docker show sizes. Shared by the web UI
 * (ui/src/format.ts bundles it from here) and `stowage prefetch`, so both say the same.
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}
