import {
  ConfigError,
  bool,
  custom,
  duration,
  int,
  listOf,
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
import { checkPrefetchImage } from './prefetch-image.js';
import { parseFreeSpace, type FreeSpaceSetting } from './free-space-setting.js';

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
    /** Time to the upstream's response headers for one request, token rounds, redirects and retries included. */
    requestDeadline: duration(20_000),
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

/** A user in an access rule: an htpasswd user name, `*` (any signed-in user) or `anonymous`. */
const isRuleUser = (user: string): boolean => user !== '' && !/[:\s]/.test(user);
const ACTIONS = ['pull', 'push', 'delete', '*'];

/** One `auth.access` rule: it grants `actions` on repositories matching `repos` to `users` (auth/access-rules.ts). */
const accessRule = section({
  repos: strings([], isNamePattern, 'a list of name patterns such as team/** or docker.io/** (lowercase)'),
  users: strings([], isRuleUser, 'a list of user names, "*" (any signed-in user) or "anonymous"'),
  actions: strings([], (action) => ACTIONS.includes(action), 'a list of actions: pull, push, delete or *'),
}, (rule, key) => {
  for (const field of ['repos', 'users', 'actions'] as const) {
    if (rule[field].length === 0) throw new ConfigError(`config: ${key}.${field}: expected at least one entry`);
  }
  return rule;
});

/** A quoted-string value of a WWW-Authenticate parameter: no quotes, backslashes or control characters. */
const isChallengeText = (text: string): boolean => !/["\\\x00-\x1f\x7f]/.test(text);

const auth = optionalSection(
  {
    /** Basic realm; the token `service` defaults to it. */
    realm: string('Stowage'),
    /** Users: bcrypt lines as `htpasswd -B` writes them; re-read when the file changes. */
    htpasswd: string(),
    /** Present: Bearer mode (the Docker token flow) with the built-in token endpoint /auth/token. */
    token: optionalSection({
      issuer: string('stowage'),
      /** The `service` of challenges and the `aud` of tokens; default: auth.realm. */
      service: string(),
      /** Clients treat shorter lifetimes as 60 s, so a shorter one would be used after it expired. */
      ttl: duration(15 * 60_000, 60_000),
      /** PEM private key (EC P-256 → ES256, or RSA → RS256); created (mode 0600) when missing. Default: <storage.path>/auth/token-key.pem. */
      signingKey: string(),
      /** Accept tokens from an external token server instead of issuing them. */
      trust: optionalSection({
        issuer: requiredString(),
        /** The external token endpoint, sent as the challenge realm. */
        realm: requiredString('an absolute http(s) URL'),
        /** PEM public keys or certificates, or JWKS files. */
        keys: strings([]),
      }),
    }),
    /** Users with every action on every repository (proxied repositories stay read-only). */
    admins: strings([], isRuleUser, 'a list of user names'),
    /** Rules only grant: a request is allowed when any matching rule grants it. */
    access: listOf(accessRule),
  },
  (value, key) => {
    if (!isChallengeText(value.realm)) throw new ConfigError(`config: ${key}.realm: must not contain quotes, backslashes or control characters`);
    if (value.token?.service !== undefined && !isChallengeText(value.token.service)) {
      throw new ConfigError(`config: ${key}.token.service: must not contain quotes, backslashes or control characters`);
    }
    const trust = value.token?.trust;
    if (trust) {
      if (!/^https?:\/\/[^\s"\\]+$/.test(trust.realm)) throw new ConfigError(`config: ${key}.token.trust.realm: expected an absolute http(s) URL, got ${JSON.stringify(trust.realm)}`);
      if (trust.keys.length === 0) throw new ConfigError(`config: ${key}.token.trust.keys: expected at least one key file (PEM or JWKS)`);
    } else if (value.htpasswd === undefined) {
      throw new ConfigError(`config: ${key}.htpasswd: expected the path of an htpasswd file (users are created with htpasswd -B)`);
    }
    return value;
  },
);

/** One `retention[]` rule (lifecycle/retention.ts): which tags and untagged manifests of hosted repositories a GC run removes. */
const retentionRule = section({
  repos: strings([], isNamePattern, 'a list of hosted name patterns such as team/**'),
  /** Tag globs (`*`, `?`) that are always kept. */
  keepTags: strings([]),
  /** Plus this many other tags, the most recently pushed. */
  keepLast: int(0),
  /** The remaining tags are untagged once older than this (since pushed). */
  olderThan: duration(null),
  /** Delete manifests no tag reaches (index children and referrers of kept manifests excepted). */
  deleteUntagged: bool(false),
}, (rule, key) => {
  if (rule.repos.length === 0) throw new ConfigError(`config: ${key}.repos: expected at least one pattern`);
  return rule;
});

/** An http(s) URL without path, query or credentials (an S3 endpoint). */
const isEndpoint = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.search === '' && /^\/?$/.test(url.pathname);
  } catch {
    return false;
  }
};

/** `storage.s3`: the bucket of the s3 driver (docs/s3.md). Credentials absent = the AWS default chain. */
const s3 = optionalSection(
  {
    /** The store's URL (http://127.0.0.1:7480); null = AWS S3 in `region`. */
    endpoint: nullableString(null),
    bucket: requiredString('a bucket name'),
    region: string('us-east-1'),
    accessKeyId: string(),
    secretAccessKey: string(),
    /** Path-style URLs (http://host/bucket/key): what S3-compatible stores need; false = virtual-hosted (bucket.host). */
    forcePathStyle: bool(true),
    /** Every key starts with it (`stowage/`), so one bucket can hold other things too. */
    prefix: custom('', (v, key) => {
      if (v === null || v === '') return '';
      if (typeof v !== 'string' || !/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/?$/.test(v) || v.split('/').some((part) => part === '.' || part === '..')) {
        throw new ConfigError(`config: ${key}: expected a key prefix such as stowage/ (letters, digits, !_.*'()- and /), got ${JSON.stringify(v)}`);
      }
      return v.endsWith('/') ? v : `${v}/`;
    }),
    /** Warm blob GETs answer 307 to a presigned URL, so bytes go from the store to the client. */
    redirect: bool(false),
    /** The store's address as clients see it, for presigned URLs; null = `endpoint`. Needs its own host name (docs/s3.md). */
    publicEndpoint: nullableString(null),
  },
  (value, key) => {
    for (const field of ['endpoint', 'publicEndpoint'] as const) {
      const url = value[field];
      if (url !== null && !isEndpoint(url)) throw new ConfigError(`config: ${key}.${field}: expected an http(s) URL such as http://127.0.0.1:7480, got ${JSON.stringify(url)}`);
    }
    if ((value.accessKeyId === undefined) !== (value.secretAccessKey === undefined)) {
      throw new ConfigError(`config: ${key}: accessKeyId and secretAccessKey go together (leave both out for the AWS default chain)`);
    }
    return value;
  },
);

/**
 * Several replicas as one Stowage (docs/deployment.md): Redis coordinates who downloads a blob, the
 * shared caches and the not-found cache; peers stream fills in progress from each other.
 */
const cluster = optionalSection(
  {
    /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
    redis: requiredString('a redis:// or rediss:// URL'),
    /** How the other replicas reach this one (http://10.0.0.5:5000), to stream a fill it owns. */
    advertiseUrl: requiredString('an absolute http(s) URL'),
    /** Authenticates calls between replicas (at least 16 characters); the same on every replica. */
    secret: requiredString('a secret of at least 16 characters'),
    /** A fill's claim lasts this long without renewal: how soon another replica takes over from one that died. */
    claimTtl: duration(10_000, 1_000),
  },
  (value, key) => {
    let redis: URL | null = null;
    try {
      redis = new URL(value.redis);
    } catch {
      // reported below
    }
    if (!redis || (redis.protocol !== 'redis:' && redis.protocol !== 'rediss:')) {
      throw new ConfigError(`config: ${key}.redis: expected a redis:// or rediss:// URL, got a value that is not one`);
    }
    let advertised: URL | null = null;
    try {
      advertised = new URL(value.advertiseUrl);
    } catch {
      // reported below
    }
    if (!advertised || (advertised.protocol !== 'http:' && advertised.protocol !== 'https:') || advertised.search || advertised.hash) {
      throw new ConfigError(`config: ${key}.advertiseUrl: expected an absolute http(s) URL such as http://10.0.0.5:5000, got ${JSON.stringify(value.advertiseUrl)}`);
    }
    if (value.secret.length < 16) throw new ConfigError(`config: ${key}.secret: expected at least 16 characters (it authenticates calls between replicas)`);
    return { ...value, advertiseUrl: advertised.origin + advertised.pathname.replace(/\/+$/, '') };
  },
);

/** `os/architecture[/variant]`, as in `linux/amd64` or `linux/arm64/v8`. */
const isPlatform = (text: string): boolean => /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(text);

/** One `prefetch.images[]` entry (lifecycle/prefetch-targets.ts has how a ref is read). */
const prefetchImage = section({
  /** `<upstream>/<repository>`, optionally with `:tag` or `@digest` (docker.io/library/alpine, ghcr.io/org/app@sha256:…). */
  ref: requiredString('an image reference such as docker.io/library/alpine or ghcr.io/org/app@sha256:…'),
  tags: strings([]),
  /** A regular expression tags must match (upstream tags are listed). */
  tagPattern: string(),
  /** A semver range tags must satisfy (`>=3.19 <4`, `^1.2`); tags that are not versions are left out. */
  semver: string(),
  /** Platforms of an index to fetch (`linux/amd64`); empty = all. */
  platforms: strings([], isPlatform, 'a list of platforms such as linux/amd64 or linux/arm64/v8'),
  /** Never evict what this entry fetched. */
  pin: bool(false),
}, (entry, key) => {
  checkPrefetchImage(entry, key);
  return entry;
});

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
      /** Where content and metadata live: `fs` = everything under `path`; `s3` = in `storage.s3`'s bucket, with fills in progress under `path`. */
      driver: oneOf(['fs', 's3'] as const, 'fs'),
      path: string('./data').withAliases('STORAGE_ROOT'),
      /** Budget for cached (proxied) content; hosted content is never evicted. 0 = unbounded. */
      maxSize: size(0),
      /**
       * Below this much free space on the data directory's disk, blobs are passed through without
       * being cached and cached content is evicted toward it (lifecycle/free-space.ts): a size, a
       * percentage of the disk (`5%`), or null for the larger of 1GiB and 5%; 0 = never.
       */
      minFreeSpace: custom<FreeSpaceSetting>(null, parseFreeSpace),
      s3,
    }),
    log: section({
      level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
      /** `json` lines for log collectors; `pretty` for a person reading a terminal. */
      format: oneOf(['json', 'pretty'] as const, 'json'),
    }),
    /** Garbage collection of hosted content (docs/lifecycle.md). */
    gc: section({
      /** A run starts this often by itself; 0 = only when asked (POST /api/v1/gc, /v2/_gc). */
      interval: duration(0),
      /** Content uploaded, linked, mounted or looked at by a client within this long is never collected. */
      gracePeriod: duration(3_600_000),
    }),
    /** Which tags and untagged manifests GC removes from hosted repositories; the first matching rule applies. */
    retention: listOf(retentionRule),
    /** Images fetched into the cache before anyone pulls them, and kept fresh (docs/lifecycle.md). */
    prefetch: section({
      /** A run starts this often (and once right after start); 0 = only when asked (POST /api/v1/prefetch, `stowage prefetch`). */
      interval: duration(6 * 3_600_000),
      /** Blobs downloaded at once by a run. */
      concurrency: int(4, 1),
      /** Stop when an upstream's ratelimit-remaining is down to this many pulls: they are left to clients. */
      pullReserve: int(10),
      images: listOf(prefetchImage),
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
      /** Require an admin's Basic credentials (auth.admins) for /metrics, in either auth mode. */
      auth: bool(false),
    }),
    auth,
    cluster,
  },
  (config) => {
    if (config.defaultUpstream !== null && !(config.defaultUpstream in config.upstreams)) {
      const known = Object.keys(config.upstreams).join(', ') || 'none';
      throw new ConfigError(`config: defaultUpstream: "${config.defaultUpstream}" is not one of the configured upstreams (${known})`);
    }
    if (config.server.publicUrl !== null) {
      let url: URL | null = null;
      try {
        url = new URL(config.server.publicUrl);
      } catch {
        // reported below
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || /["\\\s]/.test(config.server.publicUrl)) {
        throw new ConfigError(`config: server.publicUrl: expected an absolute http(s) URL such as https://registry.example.com, got ${JSON.stringify(config.server.publicUrl)}`);
      }
      config.server.publicUrl = url.origin + url.pathname.replace(/\/+$/, '');
    }
    if (config.storage.driver === 's3' && config.storage.s3 === null) {
      throw new ConfigError('config: storage.s3: storage.driver is s3, so storage.s3.bucket (and usually endpoint and credentials) must be set');
    }
    if (config.storage.driver !== 's3' && config.storage.s3 !== null) {
      throw new ConfigError(`config: storage.s3: is set but storage.driver is ${config.storage.driver} (set storage.driver: s3 to use the bucket)`);
    }
    const token = config.auth?.token;
    if (config.cluster && token && !token.trust && token.signingKey === undefined) {
      // The default key file lives under storage.path, which is each replica's own: tokens one
      // replica issued would be refused by the others.
      throw new ConfigError('config: auth.token.signingKey: required with cluster: every replica must sign and verify tokens with the same key (mount one PEM file on all, e.g. from a Kubernetes Secret)');
    }
    for (const [i, image] of config.prefetch.images.entries()) {
      const upstream = image.ref.split('/')[0]!;
      if (!(upstream in config.upstreams)) {
        throw new ConfigError(`config: prefetch.images[${i}].ref: "${image.ref}" must start with a configured upstream (${Object.keys(config.upstreams).join(', ') || 'none'})`);
      }
    }
    if (config.metrics.auth && !config.auth?.htpasswd) {
      throw new ConfigError('config: metrics.auth: needs auth.htpasswd (an admin signs in to /metrics with Basic credentials)');
    }
    return config;
  },
);

export type Config = Infer<typeof CONFIG_SCHEMA>;
export type UpstreamConfig = Infer<typeof upstream>;
export type AuthConfig = NonNullable<Infer<typeof auth>>;
export type AccessRuleConfig = Infer<typeof accessRule>;
export type ClusterConfig = NonNullable<Infer<typeof cluster>>;
