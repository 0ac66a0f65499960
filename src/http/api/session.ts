import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import { requestBody } from '../handlers/context.js';
import { readBody } from '../read-body.js';
import type { ApiContext } from './context.js';
import { viewerOf } from './guard.js';
import { SESSION_COOKIE } from './session-cookies.js';

const MAX_FORM_BYTES = 16 * 1024;

/**
 * The UI's sign-in: GET /api/v1/session (who am I, which mode), POST /api/v1/session
 * `{"username","password"}` (checked by the access control, answered with an HttpOnly session
 * cookie), DELETE /api/v1/session (sign out).
 */
export function registerSessionRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.get('/session', async (request) => {
    const viewer = viewerOf(request);
    return { mode: ctx.access.mode, user: viewer.user, admin: viewer.admin };
  });

  api.post('/session', { config: { anonymousOk: true } }, async (request, reply) => {
    if (ctx.access.mode === 'open') {
      throw new RegistryError('UNSUPPORTED', null, { message: 'no access control is configured: there is nothing to sign in to' });
    }
    const { username, password } = await readCredentials(request);
    const identity = await ctx.access.signIn(username, password, request.ip);
    if (!identity) throw new RegistryError('UNAUTHORIZED', null, { message: 'wrong user name or password' });
    const secure = request.protocol === 'https' ? '; Secure' : '';
    const maxAge = Math.floor(ctx.sessions.ttlMs / 1000);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=${ctx.sessions.issue(identity)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`);
    return { mode: ctx.access.mode, user: identity.user, admin: identity.admin };
  });

  api.delete('/session', async (_request, reply) => {
    reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.code(204).send();
  });
}

async function readCredentials(request: FastifyRequest): Promise<{ username: string; password: string }> {
  const bytes = await readBody(requestBody(request), MAX_FORM_BYTES).catch(() => {
    throw new RegistryError('PARAMETER_INVALID', null, { message: 'sign-in body too large' });
  });
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = null;
  }
  const { username, password } = (body ?? {}) as Record<string, unknown>;
  if (typeof username !== 'string' || typeof password !== 'string' || username === '') {
    throw new RegistryError('PARAMETER_INVALID', null, { message: 'expected a JSON body {"username","password"}' });
  }
  return { username, password };
}
