import { formatBytes } from '../format-bytes.js';

/** One image of a prefetch run as GET /api/v1/prefetch reports it (lifecycle/prefetch-run.ts). */
export interface ImageLine {
  ref: string;
  state: 'pending' | 'fetching' | 'done' | 'failed' | 'skipped';
  bytesTotal: number;
  bytesDone: number;
  error: string | null;
}

export interface Terminal {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR = 24;

/**
 * Shows a prefetch run's images as it goes. On a terminal: one live line per image — a bar, bytes
 * done of total, an ETA from the rate seen since the image started — redrawn in place. Otherwise
 * (a log, a pipe): a plain line when an image starts, ends or fails, and a progress line at most
 * every `plainEveryMs` while a long one runs; nothing a log cannot hold (no escape codes).
 */
export class ProgressView {
  private drawn = 0;
  private readonly seen = new Map<string, { state: ImageLine['state']; since: number; bytesAtStart: number; printedAt: number }>();

  constructor(
    private readonly out: Terminal,
    private readonly now: () => number = Date.now,
    private readonly plainEveryMs = 5_000,
  ) {}

  update(images: readonly ImageLine[]): void {
    if (this.out.isTTY) this.redraw(images);
    else this.printChanges(images);
  }

  private redraw(images: readonly ImageLine[]): void {
    const width = Math.max(40, this.out.columns ?? 100);
    const name = Math.min(Math.max(...images.map((i) => i.ref.length), 10), Math.floor(width / 2));
    const lines = images.map((image) => {
      this.track(image);
      const ref = fit(image.ref, name).padEnd(name);
      if (image.state === 'failed' || image.state === 'skipped') return fit(`${ref}  ${image.state}: ${image.error ?? ''}`, width - 1);
      const filled = image.bytesTotal > 0 ? Math.round((image.bytesDone / image.bytesTotal) * BAR) : image.state === 'done' ? BAR : 0;
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]`;
      const bytes = `${formatBytes(image.bytesDone)} / ${image.bytesTotal > 0 || image.state === 'done' ? formatBytes(image.bytesTotal) : '?'}`;
      const tail = image.state === 'done' ? 'done' : image.state === 'pending' ? 'waiting' : `ETA ${this.eta(image)}`;
      return fit(`${ref}  ${bar} ${bytes}  ${tail}`, width - 1);
    });
    // Back to the first line drawn last time, then every line rewritten and cleared to its end.
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const line of lines) text += `${line}\x1b[K\n`;
    this.out.write(text);
    this.drawn = lines.length;
  }

  private printChanges(images: readonly ImageLine[]): void {
    const now = this.now();
    for (const image of images) {
      const before = this.seen.get(image.ref)?.state;
      this.track(image);
      const seen = this.seen.get(image.ref)!;
      if (before === image.state) {
        if (image.state === 'fetching' && now - seen.printedAt >= this.plainEveryMs) {
          this.out.write(`${image.ref}: ${formatBytes(image.bytesDone)} of ${formatBytes(image.bytesTotal)}, ETA ${this.eta(image)}\n`);
          seen.printedAt = now;
        }
        continue;
      }
      seen.printedAt = now;
      // An image that started and ended between two polls still gets its start line: a log shows
      // every image's start and end, however fast it went.
      const started = image.state === 'fetching' || (image.state === 'done' && (before === undefined || before === 'pending'));
      if (started) this.out.write(`fetching ${image.ref}\n`);
      if (image.state === 'done') this.out.write(`done ${image.ref}: ${formatBytes(image.bytesTotal)} in ${formatSeconds((now - seen.since) / 1000)}\n`);
      else if (image.state === 'failed' || image.state === 'skipped') this.out.write(`${image.state} ${image.ref}: ${image.error ?? ''}\n`);
    }
  }

  private track(image: ImageLine): void {
    const seen = this.seen.get(image.ref);
    if (!seen || (seen.state !== image.state && image.state === 'fetching')) {
      this.seen.set(image.ref, { state: image.state, since: this.now(), bytesAtStart: image.bytesDone, printedAt: seen?.printedAt ?? 0 });
    } else {
      seen.state = image.state;
    }
  }

  /** Time left at the rate seen since the image started fetching; `?` until there is a rate. */
  private eta(image: ImageLine): string {
    const seen = this.seen.get(image.ref);
    const elapsed = seen ? (this.now() - seen.since) / 1000 : 0;
    const rate = seen && elapsed > 0 ? (image.bytesDone - seen.bytesAtStart) / elapsed : 0;
    if (rate <= 0 || image.bytesTotal <= 0) return '?';
    return formatSeconds(Math.max(0, image.bytesTotal - image.bytesDone) / rate);
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const fit = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`);
