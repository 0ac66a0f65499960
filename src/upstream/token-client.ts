import { discardBody, type HttpExchange } from './http-exchange.js';
import { readBodyWithLimit } from './read-body.js';
import { describeUrl, REDIRECT_STATUSES } from './redirect-policy.js';
import type { TokenGrant } from './token-cache.js';
import { UpstreamError } from './upstream.js';

/** Basic credentials of the configured upstream account. */
export interface Credentials {
  username: string;
  password: string;
}

export interface TokenRequest {
  realm: URL;
  service: string | null;
  scope: string;
  /** Sent only when the realm policy allowed it; null for an anonymous token. */
  credentials: Credentials | null;
  signal?: AbortSignal;
}

const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/**
 * The distribution token flow (GET `realm?service=…&scope=…`, optional Basic credentials). The JSON
 * answer carries `token` (or the OAuth2 alias `access_token`) and an optional `expires_in`.
 *
 * Errors: a 401/403 from the realm is 'unauthorized' (credentials rejected, or anonymous access refused);
 * network errors and 5xx are 'unavailable' (after retries); anything else unusable is 'invalid'. No
 * message ever contains the token or the password.
 */
export async function requestToken(http: HttpExchange, request: TokenRequest): Promise<TokenGrant> {
  const url = new URL(request.realm);
  if (request.service !== null) url.searchParams.set('service', request.service);
  url.searchParams.append('scope', request.scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.credentials) headers.authorization = basicAuthorization(request.credentials);

  const response = await http.send({ method: 'GET', url, headers, signal: request.signal });
  const where = describeUrl(request.realm);
  if (response.statusCode === 401 || response.statusCode === 403) {
    await discardBody(response);
    const who = request.credentials ? 'credentials were rejected' : 'anonymous access was refused';
    throw new UpstreamError('unauthorized', `token realm ${where}: ${who} (${response.statusCode})`, { status: response.statusCode });
  }
  if (response.statusCode !== 200) {
    await discardBody(response);
    const kind = response.statusCode >= 500 ? 'unavailable' : 'invalid';
    const why = REDIRECT_STATUSES.has(response.statusCode) ? 'redirects are not followed for tokens' : 'unexpected status';
    throw new UpstreamError(kind, `token realm ${where} answered ${response.statusCode} (${why})`, { status: response.statusCode });
  }

  const body = await readBodyWithLimit(response.body, MAX_TOKEN_RESPONSE_BYTES, `token response from ${where}`, request.signal);
  return parseTokenResponse(body, where);
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

function parseTokenResponse(body: Buffer, where: string): TokenGrant {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new UpstreamError('invalid', `token realm ${where} answered with invalid JSON`);
  }
  const fields = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const token = typeof fields.token === 'string' && fields.token !== '' ? fields.token : fields.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new UpstreamError('invalid', `token realm ${where} answered without a token`);
  }
  const expiresIn = fields.expires_in;
  return { token, expiresInSeconds: typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? expiresIn : null };
}
