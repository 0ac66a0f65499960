import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Auth } from '../auth/create-auth.js';
import type { TokenRequest, TokenService } from '../auth/token-service.js';
import { RegistryError } from '../oci/errors.js';
import { Challenges } from './challenge.js';
import { requestBody } from './handlers/context.js';
import { readBody } from './read-body.js';

const MAX_FORM_BYTES = 64 * 1024;

/**
 * `/auth/token`, the built-in token endpoint (Bearer mode):
 * - `GET ?service=…&scope=…[&scope=…][&account=…]` with optional Basic credentials (Docker, podman,
 *   skopeo, and containerd without credentials);
 * - `POST` `application/x-www-form-urlencoded` with `grant_type=password` (username, password) or
 *   `grant_type=refresh_token`, `service`, one space-separated `scope`, `client_id`, and
 *   `access_type=offline` for a refresh token (containerd with credentials).
 * Both answer `{token, access_token, expires_in, issued_at[, refresh_token]}`; errors are the OCI
 * format for GET (Docker reads it) and OAuth2's `{error, error_description}` for POST. Responses
 * are never cached; the request log shows neither credentials nor tokens (they are never in the URL).
 */
export function registerTokenRoutes(server: FastifyInstance, auth: Auth & { tokens: TokenService }): void {
  const challenges = new Challenges(auth);
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const tokenRequest = request.method === 'POST' ? await postForm(request) : getForm(request);
    const result = await auth.tokens.grant(tokenRequest);
    if (result.status === 200) return reply.header('Content-Type', 'application/json').send(JSON.stringify(result.body));
    if (tokenRequest.form === 'post') {
      return reply.code(result.status).header('Content-Type', 'application/json').send(JSON.stringify({ error: result.oauth, error_description: result.message }));
    }
    if (result.status === 401) {
      throw new RegistryError('UNAUTHORIZED', null, { message: result.message, headers: { 'WWW-Authenticate': challenges.basic() } });
    }
    throw new RegistryError('TOKEN_REQUEST_INVALID', null, { message: result.message });
  };
  server.route({ method: ['GET', 'POST'], url: '/auth/token', handler, config: { metricsRoute: 'token' } });
}

function getForm(request: FastifyRequest): TokenRequest {
  const query = request.query as Record<string, string | string[] | undefined>;
  const service = [query.service].flat()[0];
  return {
    form: 'get',
    ip: request.ip,
    ...(request.headers.authorization !== undefined ? { authorization: request.headers.authorization } : {}),
    ...(service !== undefined ? { service } : {}),
    scopes: [query.scope ?? []].flat(),
  };
}

async function postForm(request: FastifyRequest): Promise<TokenRequest> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new RegistryError('MEDIA_TYPE_INVALID', { contentType: type.slice(0, 100) }, { message: 'the token endpoint takes application/x-www-form-urlencoded' });
  }
  const body = await readBody(requestBody(request), MAX_FORM_BYTES, () =>
    new RegistryError('TOKEN_REQUEST_TOO_LARGE', { limit: MAX_FORM_BYTES }),
  );
  const form = new URLSearchParams(body.toString('utf8'));
  const field = (name: string): Record<string, string> => {
    const value = form.get(name);
    return value === null ? {} : { [name]: value };
  };
  const { grant_type: grantType, username, password, refresh_token: refreshToken, service } = {
    ...field('grant_type'), ...field('username'), ...field('password'), ...field('refresh_token'), ...field('service'),
  };
  return {
    form: 'post',
    ip: request.ip,
    scopes: form.getAll('scope'),
    offline: form.get('access_type') === 'offline',
    ...(grantType !== undefined ? { grantType } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(refreshToken !== undefined ? { refreshToken } : {}),
    ...(service !== undefined ? { service } : {}),
  };
}
