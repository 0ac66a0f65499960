import type { DestinationStream } from 'pino';

/**
 * `log.format: pretty`: each of pino's JSON lines rewritten for a person at a terminal —
 *
 *   14:03:07.212 INFO  request completed reqId=5c1e… res.statusCode=200 responseTime=1.9
 *   14:03:09.870 WARN  upstream request failed; retrying upstream=docker.io code=ECONNREFUSED retry=1
 *       err: Error: connect ECONNREFUSED …   (the stack, indented)
 *
 * Local time, the level, the message, then every other field as key=value (nested objects flattened
 * with dots; strings quoted only when they need it). Redaction has already happened in pino, so
 * this sees only what JSON logs would show. Colours only on a terminal, and never with NO_COLOR.
 */
const LEVELS: Record<number, { label: string; colour: number }> = {
  10: { label: 'TRACE', colour: 90 },
  20: { label: 'DEBUG', colour: 36 },
  30: { label: 'INFO ', colour: 32 },
  40: { label: 'WARN ', colour: 33 },
  50: { label: 'ERROR', colour: 31 },
  60: { label: 'FATAL', colour: 35 },
};
/** Fields every line has, or that say nothing to a reader. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

export function prettyLogStream(out: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): DestinationStream {
  const colours = out.isTTY === true && env.NO_COLOR === undefined;
  return {
    write(line: string): void {
      out.write(formatLine(line, colours));
    },
  };
}

export function formatLine(line: string, colours = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line; // not pino's: pass it on untouched
  }
  const level = LEVELS[entry.level as number] ?? { label: String(entry.level).padEnd(5), colour: 0 };
  const label = colours ? `\x1b[${level.colour}m${level.label}\x1b[0m` : level.label;
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) if (!OMITTED.has(key)) flatten(key, value, fields);
  const head = [clock(entry.time), label, typeof entry.msg === 'string' ? entry.msg : '', ...fields].filter(Boolean).join(' ');
  return `${head}\n${errorLines(entry.err)}`;
}

function clock(time: unknown): string {
  if (typeof time !== 'number') return '';
  const d = new Date(time);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function flatten(key: string, value: unknown, into: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [inner, innerValue] of Object.entries(value)) flatten(`${key}.${inner}`, innerValue, into);
    return;
  }
  const text = typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  into.push(`${key}=${text}`);
}

/** An error's stack (or type and message), indented under its line. */
function errorLines(err: unknown): string {
  if (err === null || typeof err !== 'object') return '';
  const { stack, type, message } = err as { stack?: unknown; type?: unknown; message?: unknown };
  const text = typeof stack === 'string' ? stack : `${String(type ?? 'Error')}: ${String(message ?? '')}`;
  return `${text.split('\n').map((l) => `    ${l}`).join('\n')}\n`;
}
