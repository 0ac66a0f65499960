import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../../auth/access-control.js';

export const SESSION_COOKIE = 'stowage_session';
const DEFAULT_TTL_MS = 8 * 3_600_000;

/**
 * The UI's session after the sign-in form: a cookie holding who signed in and until when, signed
 * with HMAC-SHA256 — nothing to store or share. The key is random per process, so a restart signs
 * everyone out (a deliberate simplicity: no key file to protect; see docs/ui.md); replicas derive
 * theirs from `cluster.secret`, so a cookie from one is good on all. The cookie is
 * HttpOnly and SameSite=Strict; mutating calls are also CSRF-checked (guard.ts).
 */
export class SessionCookies {
  constructor(
    private readonly key: Buffer = randomBytes(32),
    readonly ttlMs = DEFAULT_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(identity: Identity): string {
    const payload = Buffer.from(JSON.stringify({ u: identity.user, a: identity.admin, e: this.now() + this.ttlMs })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** Null for anything but an unexpired cookie this process issued. */
  verify(value: string): Identity | null {
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(this.sign(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const { u, a, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { u: unknown; a: unknown; e: unknown };
      if (typeof e !== 'number' || e <= this.now() || typeof a !== 'boolean' || !(u === null || typeof u === 'string')) return null;
      return { user: u, admin: a };
    } catch {
      return null;
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
