/**
 * A minimal, deterministic POSIX ustar writer for building test image layers: regular files and
 * directories only, fixed mtime/uid/gid, names up to 100 bytes (no prefix splitting). Enough for
 * `tar -t`, containers/image and dockerd to read; not a general-purpose archiver.
 */
export interface TarEntry {
  /** Relative path; directories end with `/`. */
  name: string;
  /** File content; omitted for directories. */
  content?: Uint8Array;
  /** Permission bits; 0o644 for files and 0o755 for directories by default. */
  mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the trailing NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number): Buffer {
  const isDir = entry.name.endsWith('/');
  const block = Buffer.alloc(BLOCK);
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length > 100) throw new Error(`ustar: name longer than 100 bytes: ${entry.name}`);
  name.copy(block, 0);
  block.write(octal(entry.mode ?? (isDir ? 0o755 : 0o644), 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii'); // uid
  block.write(octal(0, 8), 116, 'ascii'); // gid
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii'); // mtime: the epoch, so output is reproducible
  block.write(' '.repeat(8), 148, 'ascii'); // checksum is computed with this field as spaces
  block.write(isDir ? '5' : '0', 156, 'ascii');
  block.write('ustar\0' + '00', 257, 'ascii');
  block.write('root', 265, 'ascii'); // uname
  block.write('root', 297, 'ascii'); // gname
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return block;
}

/** Serialises entries, in order, into an uncompressed tar archive ending with two zero blocks. */
export function ustar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.name.endsWith('/') ? Buffer.alloc(0) : Buffer.from(entry.content ?? []);
    parts.push(header(entry, content.length), content);
    const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
