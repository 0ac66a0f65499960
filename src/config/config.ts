/**
 * The shape of Stowage's configuration and its defaults. Sizes are bytes and durations are
 * milliseconds once loaded; the YAML file and the environment may use `4MiB` / `5m` forms.
 */
export interface UpstreamConfig {
  /** Registry API base URL, e.g. https://registry-1.docker.io. */
  url: string;
  username?: string;
  password?: string;
  /** Read `auths` from a Docker config.json for this upstream's host. */
  dockerConfig?: string;
  /** How long a tag is served from cache without asking the upstream. */
  tagTtl: number;
  /** How long an upstream "not found" is remembered. */
  notFoundTtl: number;
  /** Budget for a tag revalidation before the cached manifest is served anyway (stale-while-revalidate). */
  revalidateBudget: number;
  concurrency: number;
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  retries: number;
  blobResumes: number;
}

export interface Config {
  server: {
    host: string;
    port: number;
    /** Serve HTTPS (and HTTP/2) when both are set. */
    tls: { cert: string; key: string } | null;
    /** How long in-flight requests may finish after SIGTERM. */
    drainTimeout: number;
    /** Trust X-Forwarded-* from a reverse proxy (affects Location URLs and logged client IPs). */
    trustProxy: boolean;
  };
  storage: {
    path: string;
    /** Budget for cached (proxied) content; hosted content is never evicted. 0 = unbounded. */
    maxSize: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** Repository name patterns (`*` one component, `**` any depth) that accept pushes. */
  hosted: string[];
  limits: {
    manifestMaxBytes: number;
    /** 0 = unbounded. */
    blobMaxBytes: number;
    uploadSessionTtl: number;
  };
  upstreams: Record<string, UpstreamConfig>;
  /** Upstream for names without an upstream prefix or `ns` (what Docker's registry-mirrors sends). */
  defaultUpstream: string | null;
  metrics: {
    enabled: boolean;
    /** Also serve /metrics on a separate listener (e.g. 127.0.0.1:9090); null = main port only. */
    listen: string | null;
  };
}

export const UPSTREAM_DEFAULTS: Omit<UpstreamConfig, 'url'> = {
  tagTtl: 5 * 60_000,
  notFoundTtl: 60_000,
  revalidateBudget: 500,
  concurrency: 32,
  connectTimeout: 10_000,
  headersTimeout: 30_000,
  bodyTimeout: 60_000,
  retries: 2,
  blobResumes: 3,
};

export const DEFAULT_CONFIG: Config = {
  server: { host: '0.0.0.0', port: 5000, tls: null, drainTimeout: 30_000, trustProxy: false },
  storage: { path: './data', maxSize: 0 },
  log: { level: 'info' },
  hosted: ['team/**'],
  limits: { manifestMaxBytes: 4 * 1024 * 1024, blobMaxBytes: 0, uploadSessionTtl: 24 * 3_600_000 },
  upstreams: { 'docker.io': { url: 'https://registry-1.docker.io', ...UPSTREAM_DEFAULTS } },
  defaultUpstream: 'docker.io',
  metrics: { enabled: true, listen: null },
};
