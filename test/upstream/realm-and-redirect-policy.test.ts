import { describe, expect, it } from 'vitest';
import { isPrivateHost } from '../../src/upstream/host-class.js';
import { mayReceiveCredentials, registrableDomain } from '../../src/upstream/realm-policy.js';
import { MAX_REDIRECTS, nextRedirectUrl } from '../../src/upstream/redirect-policy.js';
import { UpstreamError } from '../../src/upstream/upstream.js';

const may = (upstream: string, realm: string): boolean => mayReceiveCredentials(new URL(upstream), new URL(realm));

describe('realm policy', () => {
  it('allows the upstream host and its registrable domain', () => {
    expect(may('https://registry-1.docker.io', 'https://auth.docker.io/token')).toBe(true);
    expect(may('https://ghcr.io', 'https://ghcr.io/token')).toBe(true);
    expect(may('https://registry.example.co.uk', 'https://auth.example.co.uk/token')).toBe(true);
    expect(may('http://127.0.0.1:5000', 'http://127.0.0.1:6000/token')).toBe(true);
    expect(may('http://localhost:5000', 'http://localhost:5001/token')).toBe(true);
  });

  it('refuses other domains, shared public suffixes and lookalikes', () => {
    expect(may('https://registry-1.docker.io', 'https://evil.example/token')).toBe(false);
    expect(may('https://registry-1.docker.io', 'https://docker.io.evil.example/token')).toBe(false);
    expect(may('https://shop.co.uk', 'https://attacker.co.uk/token')).toBe(false);
    expect(may('https://mine.azurecr.io', 'https://theirs.azurecr.io/oauth2/token')).toBe(false);
    expect(may('https://a.s3.amazonaws.com', 'https://b.s3.amazonaws.com/t')).toBe(false);
    expect(may('https://me.github.io', 'https://you.github.io/t')).toBe(false);
  });

  it('allows IP-literal and localhost realms only on the upstream host itself', () => {
    expect(may('https://registry.example.com', 'https://127.0.0.1/token')).toBe(false);
    expect(may('https://registry.example.com', 'https://localhost/token')).toBe(false);
    expect(may('http://127.0.0.1:5000', 'http://127.0.0.2:5000/token')).toBe(false);
    expect(may('http://127.0.0.1:5000', 'http://localhost:5000/token')).toBe(false);
    expect(may('https://[::1]:5000', 'https://[::1]:6000/token')).toBe(true);
  });

  it('never sends credentials over http when the upstream is https', () => {
    expect(may('https://registry-1.docker.io', 'http://auth.docker.io/token')).toBe(false);
  });

  it('computes registrable domains with the built-in multi-label suffixes', () => {
    expect(registrableDomain('registry-1.docker.io')).toBe('docker.io');
    expect(registrableDomain('a.b.example.com.au')).toBe('example.com.au');
    expect(registrableDomain('x.blob.core.windows.net')).toBe('x.blob.core.windows.net');
    expect(registrableDomain('co.uk')).toBeNull();
    expect(registrableDomain('registry')).toBeNull();
    expect(registrableDomain('10.0.0.1')).toBeNull();
    expect(registrableDomain('Docker.IO.')).toBe('docker.io');
  });
});

describe('private host classification', () => {
  it('recognises loopback, private, link-local and mapped addresses and localhost names', () => {
    for (const host of ['localhost', 'api.localhost', '127.0.0.1', '10.9.8.7', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '[::1]', '[fd00::1]', '[fe80::1]', '[::ffff:7f00:1]']) {
      expect(isPrivateHost(host), host).toBe(true);
    }
    for (const host of ['8.8.8.8', '172.32.0.1', 'registry-1.docker.io', '[2606:4700::1]', '[::ffff:808:808]']) {
      expect(isPrivateHost(host), host).toBe(false);
    }
  });
});

describe('redirect policy', () => {
  const publicUpstream = new URL('https://registry.example.com');
  const next = (from: string, location: string | undefined, hops = 0, upstream = publicUpstream): URL =>
    nextRedirectUrl(new URL(from), location, { upstream, hops });
  const refused = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).kind).toBe('invalid');
      return (error as Error).message;
    }
    throw new Error('expected the redirect to be refused');
  };

  it('resolves relative locations and drops userinfo and fragments', () => {
    expect(next('https://registry.example.com/v2/a/blobs/x', '/v2/b/blobs/x').href).toBe('https://registry.example.com/v2/b/blobs/x');
    expect(next('https://registry.example.com/v2/', 'https://u:p@cdn.example.net/b?sig=1#frag').href).toBe('https://cdn.example.net/b?sig=1');
  });

  it('refuses downgrades, odd schemes, missing locations and hop 11', () => {
    expect(refused(() => next('https://registry.example.com/', 'http://cdn.example.net/b?sig=secret'))).not.toContain('secret');
    refused(() => next('https://registry.example.com/', 'ftp://cdn.example.net/b'));
    refused(() => next('https://registry.example.com/', undefined));
    expect(next('https://registry.example.com/', '/x', MAX_REDIRECTS - 1).pathname).toBe('/x');
    refused(() => next('https://registry.example.com/', '/x', MAX_REDIRECTS));
  });

  it('refuses private targets unless the upstream is private itself or the target is its own host', () => {
    refused(() => next('https://registry.example.com/', 'https://169.254.169.254/latest/meta-data'));
    refused(() => next('https://registry.example.com/', 'https://localhost/x'));
    const loopbackUpstream = new URL('http://127.0.0.1:5000');
    expect(next('http://127.0.0.1:5000/v2/', 'http://127.0.0.1:6000/blob', 0, loopbackUpstream).port).toBe('6000');
    const internalByName = new URL('https://10.0.0.5');
    expect(next('https://10.0.0.5/v2/', 'https://10.0.0.5:8443/blob', 0, internalByName).host).toBe('10.0.0.5:8443');
  });
});
