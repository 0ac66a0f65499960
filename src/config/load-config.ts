import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CONFIG_SCHEMA, type Config } from './config.js';
import { ConfigError, Leaf, MapOf, Section, type Node } from './schema.js';

export { ConfigError } from './schema.js';

type Tree = Record<string, unknown>;

export interface LoadOptions {
  /** Path of a YAML file; when undefined, `STOWAGE_CONFIG`, then ./proxy.config.yaml if it exists; null: none. */
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file and the environment (tests, CLI). Same shape as the YAML. */
  overrides?: Tree;
}

/**
 * Defaults ← YAML file ← environment ← overrides, validated against CONFIG_SCHEMA. Throws
 * ConfigError naming the key. The environment name of `a.bKey` is `STOWAGE_A_B_KEY`; of an upstream
 * key `STOWAGE_UPSTREAMS_<NAME>_<KEY>` (the name upper-cased, other characters as `_`); any of them
 * with `_FILE` reads the value from that file (secrets).
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file === null
    ? null
    : (options.file ?? env.STOWAGE_CONFIG ?? (existsSync('proxy.config.yaml') ? 'proxy.config.yaml' : null));
  const fromFile = file === null ? {} : readConfigFile(file, env);
  return new Loader(env).load(CONFIG_SCHEMA, '', 'STOWAGE', fromFile, options.overrides ?? {}) as Config;
}

function readConfigFile(file: string, env: NodeJS.ProcessEnv): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config: cannot read ${file}: ${(e as Error).message}`);
  }
  let tree: unknown;
  try {
    tree = parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigError(`config: ${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (typeof tree !== 'object' || Array.isArray(tree)) throw new ConfigError(`config: ${file}: expected a map of sections`);
  return expandVariables(tree, env) as Tree;
}

/**
 * `${VAR}` and `${VAR:-default}` in the file's string values are replaced from the environment; an
 * unset VAR is an error. Expanding after parsing keeps comments inert and values from injecting YAML.
 */
function expandVariables(node: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof node === 'string') return expandString(node, env);
  if (Array.isArray(node)) return node.map((item) => expandVariables(item, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, expandVariables(value, env)]));
  }
  return node;
}

function expandString(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    const value = env[name] ?? fallback;
    if (value === undefined) throw new ConfigError(`config: \${${name}} is used but not set in the environment`);
    return value;
  });
}

const snake = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
const join = (key: string, name: string): string => (key === '' ? name : `${key}.${name}`);

class Loader {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The value of `node` at `key`: override, else environment, else file, else default. */
  load(node: Node, key: string, envName: string, fileValue: unknown, overrideValue: unknown): unknown {
    if (node instanceof Leaf) return this.leaf(node, key, envName, fileValue, overrideValue);
    if (node instanceof MapOf) return this.map(node, key, envName, fileValue, overrideValue);
    return this.section(node, key, envName, fileValue, overrideValue);
  }

  private leaf(node: Leaf<unknown>, key: string, envName: string, fileValue: unknown, overrideValue: unknown): unknown {
    let raw = overrideValue;
    if (raw === undefined) {
      const text = this.variable(envName) ?? node.aliases.map((alias) => this.env[alias]).find((v) => v !== undefined);
      if (text !== undefined) raw = node.fromEnvText(text, key);
    }
    if (raw === undefined) raw = fileValue;
    return raw === undefined ? node.fallback(key) : node.parse(raw, key);
  }

  private section(node: Section<any, boolean>, key: string, envName: string, fileValue: unknown, overrideValue: unknown): unknown {
    if (node.optional) {
      // Absent unless something speaks of it; an explicit null (override or YAML) switches it off.
      const said = (v: unknown): boolean => v !== undefined && v !== null;
      if (overrideValue === null || !(said(fileValue) || said(overrideValue) || this.anyVariable(node, envName))) return null;
    }
    const fromFile = this.tree(node, key, fileValue);
    const fromOverride = this.tree(node, key, overrideValue);
    const out: Tree = {};
    for (const [name, field] of Object.entries(node.fields as Record<string, Node>)) {
      out[name] = this.load(field, join(key, name), `${envName}_${snake(name)}`, fromFile[name], fromOverride[name]);
    }
    return node.check ? node.check(out, key) : out;
  }

  private map(node: MapOf<any>, key: string, envName: string, fileValue: unknown, overrideValue: unknown): unknown {
    // The entries themselves are replaced as a whole (an override or the file names *the* upstreams).
    const given = overrideValue !== undefined ? overrideValue : fileValue;
    const entries = given === undefined || given === null ? node.defaultValue : given;
    if (typeof entries !== 'object' || Array.isArray(entries)) throw new ConfigError(`config: ${key}: expected a map of name to settings`);
    const out: Tree = {};
    for (const [name, value] of Object.entries(entries as Tree)) {
      node.checkName(name, join(key, name));
      out[name] = this.load(node.entry, join(key, name), `${envName}_${snake(name)}`, value ?? {}, undefined);
    }
    return out;
  }

  /** A section's raw map; a section left empty in YAML (every line commented out) parses as null. */
  private tree(node: Section<any, boolean>, key: string, value: unknown): Tree {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`config: ${key}: expected a map of settings, got ${JSON.stringify(value)}`);
    for (const name of Object.keys(value)) {
      if (!(name in node.fields)) throw new ConfigError(`config: ${join(key, name)}: unknown key`);
    }
    return value as Tree;
  }

  private anyVariable(node: Node, envName: string): boolean {
    if (node instanceof Leaf) return this.variable(envName) !== undefined;
    if (node instanceof MapOf) return false;
    return Object.entries(node.fields as Record<string, Node>).some(([name, field]) => this.anyVariable(field, `${envName}_${snake(name)}`));
  }

  /** The value of an environment variable, or of the file named by `<NAME>_FILE` (for secrets). */
  private variable(name: string): string | undefined {
    if (this.env[name] !== undefined) return this.env[name];
    const file = this.env[`${name}_FILE`];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`config: ${name}_FILE: cannot read ${file}: ${(e as Error).message}`);
    }
  }
}
