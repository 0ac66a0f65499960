import type { SharedChunk } from './shared-chunk.js';

/** Where one tail reader is: the blob position of the next byte it sends. */
export interface TailCursor {
  position: number;
}

/**
 * The last chunks a fill wrote, kept in memory while a tail reader still needs them, so a reader a
 * few chunks behind the writer sends from memory instead of reading the spool file back.
 *
 * Why more than one: with only the chunk written last shared, a reader one chunk behind read the
 * rest back from the file — a single curl on a cold 300 MB GET got 143–292 MB of it that way —
 * because reading back is slower than sending a chunk already in memory, so a reader that fell
 * behind once rarely caught up. Why a bound: chunks are kept only while a reader is still before
 * their end, and never more than `limit` (plus what sockets still hold), so a slow client costs a
 * fill at most `limit` chunks, however far behind it falls.
 */
export class RecentChunks {
  /** Contiguous, oldest first. */
  private readonly chunks: SharedChunk[] = [];
  private readonly cursors = new Set<TailCursor>();

  constructor(private readonly limit: number) {}

  /** Adds the chunk just written (the window takes over its reference) and drops what nobody needs. */
  push(chunk: SharedChunk): void {
    this.chunks.push(chunk);
    let needed = Infinity;
    for (const cursor of this.cursors) needed = Math.min(needed, cursor.position);
    // The newest chunk stays even with no reader: the next one to join usually starts there.
    while (this.chunks.length > 1 && (this.chunks.length > this.limit || this.chunks[0]!.end <= needed)) this.chunks.shift()!.release();
  }

  /** Blob position of the first byte kept in memory (Infinity when nothing is). */
  get start(): number {
    return this.chunks[0]?.start ?? Infinity;
  }

  /** The kept chunk holding blob position `position`, if any. */
  at(position: number): SharedChunk | undefined {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i]!;
      if (position >= chunk.start) return position < chunk.end ? chunk : undefined;
    }
    return undefined;
  }

  /** Counts `cursor` among the readers whose chunks are kept, until the returned function is called. */
  follow(cursor: TailCursor): () => void {
    this.cursors.add(cursor);
    return () => this.cursors.delete(cursor);
  }

  /** Lets go of every chunk (the fill is over). */
  clear(): void {
    for (const chunk of this.chunks.splice(0)) chunk.release();
  }
}
