/** The result table: one row per figure, printed as aligned text and as Markdown (for docs). */

export interface Row {
  figure: string;
  stowage: string;
  reference: string;
  /** stowage ÷ reference, or '' when a ratio means nothing. */
  ratio: string;
  target: string;
  /** true pass, false fail, null: information only (no target). */
  pass: boolean | null;
}

const HEADERS = ['figure', 'stowage', 'reference', 'ratio', 'target', 'pass/fail'];

function cells(row: Row): string[] {
  return [row.figure, row.stowage, row.reference, row.ratio, row.target, row.pass === null ? '—' : row.pass ? 'PASS' : 'FAIL'];
}

export function textTable(rows: Row[]): string {
  const all = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const escape = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(escape).join(' | ')} |`),
  ].join('\n');
}

export const fmt = {
  mbps: (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000),
  n: (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  ratio: (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '∞'),
  mib: (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`,
};

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
