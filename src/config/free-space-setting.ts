import { ConfigError } from './schema.js';
import { parseSize } from './units.js';

/** `storage.minFreeSpace`: bytes, a share of the disk, or null for the default (the larger of 1GiB and 5%). */
export type FreeSpaceSetting = { bytes: number } | { percent: number } | null;

export function parseFreeSpace(value: unknown, key: string): FreeSpaceSetting {
  if (value === null || value === '' || value === 'null' || value === 'auto') return null;
  const percent = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
  if (percent) {
    const share = Number(percent[1]);
    if (share >= 100) throw new ConfigError(`config: ${key}: a percentage below 100, got ${JSON.stringify(value)}`);
    return { percent: share };
  }
  const bytes = parseSize(value);
  if (bytes === null) throw new ConfigError(`config: ${key}: expected a size such as 2GiB, a percentage such as 5%, or null, got ${JSON.stringify(value)}`);
  return { bytes };
}

/** The free bytes the setting asks for on a disk of `totalBytes`. */
export function minFreeBytes(setting: FreeSpaceSetting, totalBytes: number): number {
  if (setting === null) return Math.max(1024 ** 3, Math.round(totalBytes * 0.05));
  return 'bytes' in setting ? setting.bytes : Math.round((totalBytes * setting.percent) / 100);
}
