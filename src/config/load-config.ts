import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG, UPSTREAM_DEFAULTS, type Config, type UpstreamConfig } from './config.js';
import { credentialHosts, dockerConfigCredentials } from './docker-credentials.js';
import { parseDuration, parseSize } from './units.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Kind = 'string' | 'port' | 'int' | 'bool' | 'size' | 'duration' | 'level' | 'strings' | 'nullable-string';
type Tree = Record<string, unknown>;

// Every settable key with how to read it. The environment name of `a.bKey` is `STOWAGE_A_B_KEY`.
const SCHEMA: Record<string, Kind> = {
  'server.host': 'string',
  'server.port': 'port',
  'server.drainTimeout': 'duration',
  'server.trustProxy': 'bool',
  'server.tls.cert': 'string',
  'server.tls.key': 'string',
  'storage.path': 'string',
  'storage.maxSize': 'size',
  'log.level': 'level',
  hosted: 'strings',
  'limits.manifestMaxBytes': 'size',
  'limits.blobMaxBytes': 'size',
  'limits.uploadSessionTtl': 'duration',
  defaultUpstream: 'nullable-string',
  'metrics.enabled': 'bool',
  'metrics.listen': 'nullable-string',
};

const UPSTREAM_SCHEMA: Record<keyof UpstreamConfig, Kind> = {
  url: 'string',
  username: 'string',
  password: 'string',
  dockerConfig: 'string',
  tagTtl: 'duration',
  notFoundTtl: 'duration',
  revalidateBudget: 'duration',
  concurrency: 'int',
  connectTimeout: 'duration',
  headersTimeout: 'duration',
  bodyTimeout: 'duration',
  retries: 'int',
  blobResumes: 'int',
};

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/**
 * A non-negative integer from a number or a string of digits. Not `Number(value)`: it reads `''` as
 * 0 (an empty PORT= would silently bind a random port), and `0x50` or `1e3` as numbers.
 */
function integer(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  return typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value) ? Number(value) : null;
}

function coerce(key: string, kind: Kind, value: unknown): unknown {
  const fail = (expected: string): never => {
    throw new ConfigError(`config: ${key}: expected ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value !== '' ? value : fail('a non-empty string');
    case 'nullable-string':
      if (value === null || value === '' || value === 'null') return null;
      return typeof value === 'string' ? value : fail('a string or null');
    case 'port': {
      const n = integer(value);
      return n !== null && n <= 65535 ? n : fail('a port number 0-65535');
    }
    case 'int': {
      const n = integer(value);
      return n !== null ? n : fail('a non-negative integer');
    }
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (TRUE.includes(String(value).toLowerCase())) return true;
      return FALSE.includes(String(value).toLowerCase()) ? false : fail('true or false');
    case 'size':
      return parseSize(value) ?? fail('a size such as 4MiB, 50GiB or a number of bytes');
    case 'duration':
      return parseDuration(value) ?? fail('a duration such as 500ms, 5m, 24h or a number of seconds');
    case 'level':
      return typeof value === 'string' && LEVELS.includes(value) ? value : fail(LEVELS.join('|'));
    case 'strings':
      if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
      return Array.isArray(value) && value.every((s) => typeof s === 'string') ? value : fail('a list of strings');
  }
}

const envName = (key: string): string => `STOWAGE_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}`;

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

function getPath(tree: Tree, path: string): unknown {
  return path.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Tree)[part] : undefined), tree);
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts.at(-1)!] = value;
}

/** The value of an environment variable, or of the file named by `<NAME>_FILE` (for secrets). */
function fromEnv(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env[name] !== undefined) return env[name];
  const file = env[`${name}_FILE`];
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(`config: ${name}_FILE: cannot read ${file}: ${(e as Error).message}`);
  }
}

function loadUpstream(name: string, raw: unknown, env: NodeJS.ProcessEnv): UpstreamConfig {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/.test(name)) {
    throw new ConfigError(`config: upstreams.${name}: the name must be a lowercase host name such as docker.io or ghcr.io`);
  }
  const tree = (raw && typeof raw === 'object' ? raw : {}) as Tree;
  const out: Tree = { ...UPSTREAM_DEFAULTS };
  const prefix = `STOWAGE_UPSTREAMS_${name.replace(/[^a-z0-9]/g, '_').toUpperCase()}_`;
  for (const [key, kind] of Object.entries(UPSTREAM_SCHEMA)) {
    const envValue = fromEnv(prefix + key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), env);
    const value = envValue ?? tree[key];
    if (value !== undefined && value !== null) out[key] = coerce(`upstreams.${name}.${key}`, kind, value);
  }
  for (const key of Object.keys(tree)) {
    if (!(key in UPSTREAM_SCHEMA)) throw new ConfigError(`config: upstreams.${name}.${key}: unknown key`);
  }
  if (typeof out.url !== 'string') throw new ConfigError(`config: upstreams.${name}.url: expected a URL`);
  let url: URL;
  try {
    url = new URL(out.url);
  } catch {
    throw new ConfigError(`config: upstreams.${name}.url: expected an http(s) URL, got ${JSON.stringify(out.url)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`config: upstreams.${name}.url: expected an http(s) URL, got ${JSON.stringify(out.url)}`);
  }
  out.url = url.origin + url.pathname.replace(/\/+$/, '');
  if (typeof out.dockerConfig === 'string' && out.username === undefined) {
    let found;
    try {
      found = dockerConfigCredentials(out.dockerConfig, credentialHosts(name, url.href));
    } catch (e) {
      throw new ConfigError(`config: upstreams.${name}.dockerConfig: ${(e as Error).message}`);
    }
    if (!found) throw new ConfigError(`config: upstreams.${name}.dockerConfig: no credentials for ${url.host} in ${out.dockerConfig}`);
    Object.assign(out, found);
  }
  if ((out.username === undefined) !== (out.password === undefined)) {
    throw new ConfigError(`config: upstreams.${name}: username and password go together`);
  }
  return out as unknown as UpstreamConfig;
}

function checkUnknownKeys(tree: Tree, prefix = ''): void {
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix + key;
    if (path === 'upstreams' || path === 'server.tls' && value === null) continue;
    if (path in SCHEMA) continue;
    // A known section left empty in YAML (`server:` with every line commented out) parses as null.
    const isSection = Object.keys(SCHEMA).some((k) => k.startsWith(`${path}.`));
    if (value === null && isSection) continue;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(SCHEMA).some((k) => k.startsWith(`${path}.`))) {
      checkUnknownKeys(value as Tree, `${path}.`);
      continue;
    }
    throw new ConfigError(`config: ${path}: unknown key`);
  }
}

export interface LoadOptions {
  /** Path of a YAML file; when undefined, `STOWAGE_CONFIG`, then ./proxy.config.yaml if it exists; null: none. */
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file (tests, CLI). Same shape as the YAML. */
  overrides?: Tree;
}

/** Defaults ← YAML file ← environment ← overrides, validated. Throws ConfigError naming the key. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file === null
    ? null
    : (options.file ?? env.STOWAGE_CONFIG ?? (existsSync('proxy.config.yaml') ? 'proxy.config.yaml' : null));
  let fromFile: Tree = {};
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`config: cannot read ${file}: ${(e as Error).message}`);
    }
    try {
      fromFile = (parseYaml(text) ?? {}) as Tree;
    } catch (e) {
      throw new ConfigError(`config: ${file} is not valid YAML: ${(e as Error).message}`);
    }
    fromFile = expandVariables(fromFile, env) as Tree;
  }
  const merged: Tree = structuredClone(fromFile);
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    merged[key] = value && typeof value === 'object' && !Array.isArray(value) && key !== 'upstreams'
      ? { ...((merged[key] as Tree) ?? {}), ...(value as Tree) }
      : value;
  }
  checkUnknownKeys(merged);

  const config = structuredClone(DEFAULT_CONFIG) as unknown as Tree;
  const aliases: Record<string, string | undefined> = { 'server.port': env.PORT, 'storage.path': env.STORAGE_ROOT };
  for (const [key, kind] of Object.entries(SCHEMA)) {
    const override = getPath(options.overrides ?? {}, key);
    const value = override !== undefined ? override : (fromEnv(envName(key), env) ?? aliases[key] ?? getPath(fromFile, key));
    if (value !== undefined) setPath(config, key, coerce(key, kind, value));
  }
  // Zero would purge every upload session at once (and spin the purge timer), or refuse every manifest.
  for (const key of ['limits.uploadSessionTtl', 'limits.manifestMaxBytes']) {
    if (getPath(config, key) === 0) throw new ConfigError(`config: ${key}: must be greater than 0`);
  }
  const tls = (config.server as Tree).tls as Tree | null;
  if (tls && (!tls.cert || !tls.key)) throw new ConfigError('config: server.tls: both cert and key are required');

  const rawUpstreams = (merged.upstreams ?? (file ? fromFile.upstreams : undefined)) as Tree | undefined;
  if (rawUpstreams !== undefined) {
    if (typeof rawUpstreams !== 'object' || rawUpstreams === null) throw new ConfigError('config: upstreams: expected a map of name to settings');
    config.upstreams = Object.fromEntries(Object.entries(rawUpstreams).map(([name, raw]) => [name, loadUpstream(name, raw, env)]));
  } else {
    config.upstreams = Object.fromEntries(
      Object.entries(DEFAULT_CONFIG.upstreams).map(([name, raw]) => [name, loadUpstream(name, raw, env)]),
    );
  }
  const result = config as unknown as Config;
  if (result.defaultUpstream !== null && !(result.defaultUpstream in result.upstreams)) {
    throw new ConfigError(`config: defaultUpstream: "${result.defaultUpstream}" is not one of the configured upstreams (${Object.keys(result.upstreams).join(', ') || 'none'})`);
  }
  for (const pattern of result.hosted) {
    if (!/^[a-z0-9*][a-z0-9._*/-]*$/.test(pattern)) throw new ConfigError(`config: hosted: invalid pattern ${JSON.stringify(pattern)}`);
  }
  return result;
}
