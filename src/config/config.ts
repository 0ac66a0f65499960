import {
  ConfigError,
  bool,
  duration,
  int,
  mapOf,
  nullableString,
  oneOf,
  optionalSection,
  port,
  requiredString,
  section,
  size,
  string,
  strings,
  type Infer,
} from './schema.js';
import { credentialHosts, dockerConfigCredentials } from './docker-credentials.js';

/**
 * Every setting Stowage has, its default and how it is read — the one definition the type, the
 * defaults, the environment names (`server.drainTimeout` → `STOWAGE_SERVER_DRAIN_TIMEOUT`) and the
 * unknown-key errors come from. Sizes are bytes and durations milliseconds once loaded; the YAML
 * file and the environment may use `4MiB` / `5m` forms. proxy.config.yaml documents each key.
 */

/** Repository name patterns: `*` one component, `**` any depth (registry/name-pattern.ts). */
export const isNamePattern = (pattern: string): boolean => /^[a-z0-9*][a-z0-9._*/-]*$/.test(pattern);

const upstream = section(
  {
    /** Registry API base URL, e.g. https://registry-1.docker.io. */
    url: requiredString('an http(s) URL'),
    username: string(),
    password: string(),
    /** Read `auths` from a Docker config.json for this upstream's host. */
    dockerConfig: string(),
    /** How long a tag is served from cache without asking the upstream. */
    tagTtl: duration(5 * 60_000),
    /** How long an upstream "not found" is remembered. */
    notFoundTtl: duration(60_000),
    /** Budget for a tag revalidation before the cached manifest is served anyway (stale-while-revalidate). */
    revalidateBudget: duration(500),
    concurrency: int(32, 1),
    connectTimeout: duration(10_000),
    headersTimeout: duration(30_000),
    bodyTimeout: duration(60_000),
    retries: int(2),
    blobResumes: int(3),
  },
  (value, key) => {
    let url: URL;
    try {
      url = new URL(value.url);
    } catch {
      throw new ConfigError(`config: ${key}.url: expected an http(s) URL, got ${JSON.stringify(value.url)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ConfigError(`config: ${key}.url: expected an http(s) URL, got ${JSON.stringify(value.url)}`);
    }
    const out = { ...value, url: url.origin + url.pathname.replace(/\/+$/, '') };
    if (out.dockerConfig !== undefined && out.username === undefined) {
      const name = key.slice('upstreams.'.length);
      let found;
      try {
        found = dockerConfigCredentials(out.dockerConfig, credentialHosts(name, url.href));
      } catch (e) {
        throw new ConfigError(`config: ${key}.dockerConfig: ${(e as Error).message}`);
      }
      if (!found) throw new ConfigError(`config: ${key}.dockerConfig: no credentials for ${url.host} in ${out.dockerConfig}`);
      Object.assign(out, found);
    }
    if ((out.username === undefined) !== (out.password === undefined)) {
      throw new ConfigError(`config: ${key}: username and password go together`);
    }
    return out;
  },
);

export const CONFIG_SCHEMA = section(
  {
    server: section({
      host: string('0.0.0.0'),
      port: port(5000).withAliases('PORT'),
      /** Serve HTTPS (and HTTP/2) when set. */
      tls: optionalSection({ cert: requiredString(), key: requiredString() }),
      /** How long in-flight requests may finish after SIGTERM. */
      drainTimeout: duration(30_000),
      /** Trust X-Forwarded-* from a reverse proxy (affects Location URLs and logged client IPs). */
      trustProxy: bool(false),
      /** How clients reach Stowage (https://registry.example.com): pull commands in the UI, the token realm. */
      publicUrl: nullableString(null),
    }),
    storage: section({
      path: string('./data').withAliases('STORAGE_ROOT'),
      /** Budget for cached (proxied) content; hosted content is never evicted. 0 = unbounded. */
      maxSize: size(0),
    }),
    log: section({
      level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    }),
    /** Repository name patterns that accept pushes. */
    hosted: strings(['team/**'], isNamePattern, 'a list of name patterns such as team/** (lowercase)'),
    limits: section({
      manifestMaxBytes: size(4 * 1024 * 1024, 1),
      /** 0 = unbounded. */
      blobMaxBytes: size(0),
      uploadSessionTtl: duration(24 * 3_600_000, 1),
    }),
    upstreams: mapOf(upstream, { 'docker.io': { url: 'https://registry-1.docker.io' } }, (name, key) => {
      if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/.test(name)) {
        throw new ConfigError(`config: ${key}: the name must be a lowercase host name such as docker.io or ghcr.io`);
      }
    }),
    /** Upstream for names without an upstream prefix or `ns` (what Docker's registry-mirrors sends). */
    defaultUpstream: nullableString('docker.io'),
    metrics: section({
      enabled: bool(true),
      /** Also serve /metrics on a separate listener (e.g. 127.0.0.1:9090); null = main port only. */
      listen: nullableString(null),
    }),
  },
  (config) => {
    if (config.defaultUpstream !== null && !(config.defaultUpstream in config.upstreams)) {
      const known = Object.keys(config.upstreams).join(', ') || 'none';
      throw new ConfigError(`config: defaultUpstream: "${config.defaultUpstream}" is not one of the configured upstreams (${known})`);
    }
    return config;
  },
);

export type Config = Infer<typeof CONFIG_SCHEMA>;
export type UpstreamConfig = Infer<typeof upstream>;
