import { parse as parseYaml } from 'yaml';
import { parseDuration, parseSize } from './units.js';

/**
 * A small typed schema for the configuration: one definition gives the TypeScript type
 * (`Infer`), the defaults, the environment variable names and the unknown-key errors, so a new
 * setting is one line in config.ts. Loading (file, environment, overrides) is in load-config.ts.
 *
 * Three kinds of node:
 * - `Leaf`: a value with a parser and a default (`undefined` = optional, no default);
 * - `Section`: named fields; `optional` sections are `null` unless the file, an override or an
 *   environment variable of one of their fields says something about them (`auth`, `server.tls`);
 * - `MapOf`: entries keyed by name, each a Section (`upstreams`).
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Parse<T> = (value: unknown, key: string) => T;

export class Leaf<T> {
  constructor(
    readonly defaultValue: T,
    readonly parse: Parse<T>,
    /** How an environment variable's text becomes a value (`a,b` lists, YAML for structured values). */
    readonly fromEnvText: (text: string, key: string) => unknown = (text) => text,
    /** Other environment variables that set this key, weaker than its STOWAGE_ name (`PORT`). */
    readonly aliases: readonly string[] = [],
    /** Must be set whenever its section is present (no default). */
    readonly required = false,
  ) {}

  withAliases(...aliases: string[]): Leaf<T> {
    return new Leaf(this.defaultValue, this.parse, this.fromEnvText, aliases, this.required);
  }

  /** The default for a key nobody set; throws for a required one. */
  fallback(key: string): T {
    if (this.required) return fail(key, 'a value', undefined);
    return this.defaultValue === undefined ? this.defaultValue : structuredClone(this.defaultValue);
  }
}

export type Fields = { readonly [key: string]: Node };
export type Node = Leaf<any> | Section<any, boolean> | MapOf<any>;

export class Section<F extends Fields, Optional extends boolean = false> {
  constructor(
    readonly fields: F,
    readonly optional: Optional,
    /** Cross-field checks and derived values, run on the parsed section; throws ConfigError. */
    readonly check?: (value: InferFields<F>, key: string) => InferFields<F>,
  ) {}
}

export class MapOf<F extends Fields> {
  constructor(
    readonly entry: Section<F, false>,
    readonly defaultValue: Record<string, Record<string, unknown>>,
    /** Validates an entry's name; throws ConfigError naming `key`. */
    readonly checkName: (name: string, key: string) => void,
  ) {}
}

export type InferFields<F extends Fields> = { -readonly [K in keyof F]: Infer<F[K]> };
export type Infer<N> =
  N extends Leaf<infer T>
    ? T
    : N extends Section<infer F, infer O>
      ? O extends true
        ? InferFields<F> | null
        : InferFields<F>
      : N extends MapOf<infer F>
        ? Record<string, InferFields<F>>
        : never;

// ---- leaves ---------------------------------------------------------------------------------

const fail = (key: string, expected: string, value: unknown): never => {
  throw new ConfigError(`config: ${key}: expected ${expected}, got ${JSON.stringify(value)}`);
};

/**
 * A non-negative integer from a number or a string of digits. Not `Number(value)`: it reads `''` as
 * 0 (an empty PORT= would silently bind a random port), and `0x50` or `1e3` as numbers.
 */
function integer(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  return typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : null;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** A non-empty string; `def` undefined makes it optional. */
export function string(): Leaf<string | undefined>;
export function string(def: string): Leaf<string>;
export function string(def?: string): Leaf<string | undefined> {
  return new Leaf(def, (v, key) => (typeof v === 'string' && v !== '' ? v : fail(key, 'a non-empty string', v)));
}

/** A string that must be given whenever its section is present. */
export const requiredString = (what = 'a non-empty string'): Leaf<string> =>
  new Leaf<string>('', (v, key) => (typeof v === 'string' && v !== '' ? v : fail(key, what, v)), undefined, [], true);

/** A string or null (`''` and `'null'` read as null, so an environment variable can unset it). */
export const nullableString = (def: string | null = null): Leaf<string | null> =>
  new Leaf(def, (v, key) => {
    if (v === null || v === '' || v === 'null') return null;
    return typeof v === 'string' ? v : fail(key, 'a string or null', v);
  });

export const port = (def: number): Leaf<number> =>
  new Leaf(def, (v, key) => {
    const n = integer(v);
    return n !== null && n <= 65535 ? n : fail(key, 'a port number 0-65535', v);
  });

export const int = (def: number, min = 0): Leaf<number> =>
  new Leaf(def, (v, key) => {
    const n = integer(v);
    return n !== null && n >= min ? n : fail(key, min > 0 ? `an integer ≥ ${min}` : 'a non-negative integer', v);
  });

export const bool = (def: boolean): Leaf<boolean> =>
  new Leaf(def, (v, key) => {
    if (typeof v === 'boolean') return v;
    if (TRUE.includes(String(v).toLowerCase())) return true;
    return FALSE.includes(String(v).toLowerCase()) ? false : fail(key, 'true or false', v);
  });

/** Bytes, from `4MiB`, `50GiB`, `1.5GB` or a number of bytes. `min` refuses smaller values (0 = none). */
export const size = (def: number, min = 0): Leaf<number> =>
  new Leaf(def, (v, key) => {
    const n = parseSize(v) ?? fail(key, 'a size such as 4MiB, 50GiB or a number of bytes', v);
    return n >= min ? n : fail(key, `a size of at least ${min} bytes (must be greater than 0)`, v);
  });

/** Milliseconds, from `500ms`, `5m`, `24h`, `7d` or a number of seconds. */
export function duration(def: number, min?: number): Leaf<number>;
export function duration(def: null, min?: number): Leaf<number | null>;
export function duration(def: number | null, min = 0): Leaf<number | null> {
  return new Leaf<number | null>(def, (v, key) => {
    if (def === null && (v === null || v === '' || v === 'null' || v === 'off')) return null;
    const n = parseDuration(v) ?? fail(key, 'a duration such as 500ms, 5m, 24h or a number of seconds', v);
    return n >= min ? n : fail(key, 'a duration greater than 0 (must be greater than 0)', v);
  });
}

export const oneOf = <T extends string>(values: readonly T[], def: T): Leaf<T> =>
  new Leaf(def, (v, key) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : fail(key, values.join('|'), v)));

/** A list of strings; in the environment, comma-separated. `check` validates each item. */
export const strings = (def: string[], check?: (item: string) => boolean, what = 'a list of strings'): Leaf<string[]> =>
  new Leaf(
    def,
    (v, key) => {
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return fail(key, what, v);
      const bad = check ? v.find((s) => !check(s)) : undefined;
      return bad === undefined ? [...v] : fail(key, what, bad);
    },
    (text) => text.split(',').map((s) => s.trim()).filter(Boolean),
  );

/** A list of objects of `section`'s shape (rules); in the environment, YAML or JSON text. */
export const listOf = <F extends Fields>(section: Section<F, false>, def: InferFields<F>[] = []): Leaf<InferFields<F>[]> =>
  new Leaf(
    def,
    (v, key) => {
      if (v === null) return [];
      if (!Array.isArray(v)) return fail(key, 'a list', v);
      return v.map((item, i) => parseSection(section, item, `${key}[${i}]`));
    },
    yamlText,
  );

/** Any YAML value passed through `parse` (escape hatch for shapes the kinds above do not cover). */
export const custom = <T>(def: T, parse: Parse<T>): Leaf<T> => new Leaf(def, parse, yamlText);

function yamlText(text: string, key: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (e) {
    throw new ConfigError(`config: ${key}: the environment value is not valid YAML: ${(e as Error).message}`);
  }
}

// ---- composites -----------------------------------------------------------------------------

export const section = <F extends Fields>(fields: F, check?: (value: InferFields<F>, key: string) => InferFields<F>): Section<F, false> =>
  new Section(fields, false, check);

export const optionalSection = <F extends Fields>(fields: F, check?: (value: InferFields<F>, key: string) => InferFields<F>): Section<F, true> =>
  new Section(fields, true, check);

export const mapOf = <F extends Fields>(
  entry: Section<F, false>,
  defaultValue: Record<string, Record<string, unknown>>,
  checkName: (name: string, key: string) => void,
): MapOf<F> => new MapOf(entry, defaultValue, checkName);

/** Parses a plain object (a list item) against a section: no environment, defaults filled in. */
export function parseSection<F extends Fields>(node: Section<F, boolean>, value: unknown, key: string): InferFields<F> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(key, 'a map of settings', value);
  const tree = value as Record<string, unknown>;
  for (const name of Object.keys(tree)) {
    if (!(name in node.fields)) throw new ConfigError(`config: ${key}.${name}: unknown key`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(node.fields)) {
    const path = `${key}.${name}`;
    if (!(field instanceof Leaf)) throw new Error(`${path}: list items hold plain values only`);
    const raw = tree[name];
    out[name] = raw === undefined ? field.fallback(path) : field.parse(raw, path);
  }
  const parsed = out as InferFields<F>;
  return node.check ? node.check(parsed, key) : parsed;
}

