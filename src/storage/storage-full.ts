import { RegistryError } from '../oci/errors.js';

/**
 * Whether an error says the disk (or the quota) is full — ENOSPC or EDQUOT, on the error or
 * anywhere in its `cause` chain (stores wrap what the file system said), or STORAGE_FULL already.
 */
export function isStorageFull(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RegistryError && e.kind === 'STORAGE_FULL') return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** The error a client gets for it: 507 with the OCI body. */
export const storageFull = (cause: unknown): RegistryError =>
  new RegistryError('STORAGE_FULL', null, { message: 'the registry has no space left to store this; nothing of it was kept', cause });
