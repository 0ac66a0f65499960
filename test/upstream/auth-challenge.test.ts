import { describe, expect, it } from 'vitest';
import { findBearerChallenge, parseAuthChallenges } from '../../src/upstream/auth-challenge.js';

describe('parseAuthChallenges', () => {
  it("parses Docker Hub's Bearer challenge", () => {
    const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
    expect(parseAuthChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
      },
    ]);
  });

  it('keeps commas and escaped quotes inside quoted values', () => {
    const [challenge] = parseAuthChallenges('Bearer realm="https://a.example/token",scope="repository:a/b:pull,push",error="say \\"hi\\""');
    expect(challenge?.params.scope).toBe('repository:a/b:pull,push');
    expect(challenge?.params.error).toBe('say "hi"');
  });

  it('splits several challenges in one header and in repeated headers; names are case-insensitive', () => {
    const challenges = parseAuthChallenges(['Basic realm="Registry Realm", BEARER Realm="https://x.example/t", Service=svc', 'Negotiate']);
    expect(challenges.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(challenges[1]?.params).toEqual({ realm: 'https://x.example/t', service: 'svc' });
  });

  it('accepts unquoted token values and spaces around =', () => {
    expect(parseAuthChallenges('Bearer realm = "https://r.example/t" , service=reg.example')[0]?.params).toEqual({
      realm: 'https://r.example/t',
      service: 'reg.example',
    });
  });

  it('never throws on garbage', () => {
    for (const header of ['', '=', '"', 'Bearer realm="unterminated', 'Bearer ,,, realm', '@@@']) {
      expect(() => parseAuthChallenges(header)).not.toThrow();
    }
    expect(parseAuthChallenges(undefined)).toEqual([]);
  });
});

describe('findBearerChallenge', () => {
  it('requires an absolute http(s) realm', () => {
    expect(findBearerChallenge(parseAuthChallenges('Bearer realm="/token"'))).toBeNull();
    expect(findBearerChallenge(parseAuthChallenges('Bearer realm="file:///etc/passwd"'))).toBeNull();
    expect(findBearerChallenge(parseAuthChallenges('Basic realm="x"'))).toBeNull();
    const bearer = findBearerChallenge(parseAuthChallenges('Basic realm="x", Bearer realm="https://a.example/t",error="insufficient_scope"'));
    expect(bearer).toMatchObject({ service: null, scope: null, error: 'insufficient_scope' });
    expect(bearer?.realm.href).toBe('https://a.example/t');
  });
});
