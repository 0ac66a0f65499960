import type { UpstreamSettings } from '../upstream/upstream.js';
import type { Config, UpstreamConfig } from './config.js';

/** What the upstream client needs of one `upstreams.<name>` entry (durations in ms). */
export function upstreamSettings(name: string, upstream: UpstreamConfig, config: Config): UpstreamSettings {
  return {
    name,
    url: upstream.url,
    ...(upstream.username !== undefined ? { username: upstream.username } : {}),
    ...(upstream.password !== undefined ? { password: upstream.password } : {}),
    concurrency: upstream.concurrency,
    connectTimeoutMs: upstream.connectTimeout,
    headersTimeoutMs: upstream.headersTimeout,
    requestDeadlineMs: upstream.requestDeadline,
    bodyTimeoutMs: upstream.bodyTimeout,
    retries: upstream.retries,
    blobResumes: upstream.blobResumes,
    maxManifestBytes: config.limits.manifestMaxBytes,
  };
}
