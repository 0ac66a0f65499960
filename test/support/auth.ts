/**
 * Pieces of the access-control tests: htpasswd files made by the real `htpasswd -B` (apache2-utils),
 * Basic headers, an OCI client that sends an Authorization header, and a JWT reader.
 */
import { writeFile } from 'node:fs/promises';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { RegistryClient } from '../http/registry-client.js';
import { runChecked } from './processes.js';

/** One `user:$2y$…` line, as `htpasswd -nbB -C cost` prints it. */
export async function htpasswdLine(user: string, password: string, cost = 5): Promise<string> {
  return (await runChecked('htpasswd', ['-nbB', '-C', String(cost), user, password], { timeoutMs: 30_000 })).stdout.trim();
}

/** Writes an htpasswd file with these users (bcrypt), plus any raw `extra` lines. */
export async function writeHtpasswd(path: string, users: Record<string, string>, extra: string[] = []): Promise<void> {
  const lines = await Promise.all(Object.entries(users).map(([user, password]) => htpasswdLine(user, password)));
  await writeFile(path, [...lines, ...extra, ''].join('\n'));
}

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A registry client whose every request carries `authorization` (none when undefined). */
export class AuthorizedClient extends RegistryClient {
  private readonly dispatcher = new Agent();

  constructor(base: string, readonly authorization: string | undefined) {
    super(base);
  }

  override fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string> | undefined), ...(this.authorization ? { authorization: this.authorization } : {}) };
    return fetch(this.url(path), { ...init, headers, dispatcher: this.dispatcher });
  }

  /** Destroys rather than closes: tests often read only a status, and close() waits for unread bodies. */
  override async close(): Promise<void> {
    await this.dispatcher.destroy();
    await super.close();
  }
}

/** The header and claims of a compact JWT (no verification). */
export function readJwt(token: string): { header: Record<string, unknown>; claims: Record<string, any> } {
  const [header, claims] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, any>);
  return { header: header!, claims: claims! };
}

/** The parameters of a `WWW-Authenticate` challenge: `{ scheme, realm, service, scope, error, … }`. */
export function parseChallenge(header: string | null): Record<string, string> {
  if (header === null) return {};
  const space = header.indexOf(' ');
  const params: Record<string, string> = { scheme: header.slice(0, space) };
  for (const [, key, value] of header.slice(space + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) params[key!] = value!;
  return params;
}
