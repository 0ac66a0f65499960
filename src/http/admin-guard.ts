import type { FastifyRequest } from 'fastify';
import type { Auth } from '../auth/create-auth.js';
import { RegistryError } from '../oci/errors.js';

/**
 * For `/metrics` with `metrics.auth: true`: an admin's Basic credentials, in either auth mode —
 * Prometheus' `basic_auth` cannot do the token flow. 401 with a Basic challenge without (valid)
 * credentials, 403 for a user who is not in `auth.admins`.
 */
export function adminGuard(auth: Auth): (request: FastifyRequest) => Promise<void> {
  const challenge = { 'WWW-Authenticate': `Basic realm="${auth.realm}", charset="UTF-8"` };
  return async (request) => {
    const header = request.headers.authorization;
    const caller = header !== undefined && /^basic /i.test(header) ? await auth.access.identify(header, request.ip) : null;
    if (caller === null) throw new RegistryError('UNAUTHORIZED', null, { headers: challenge, message: "an admin's Basic credentials are required" });
    if (!caller.admin) throw new RegistryError('DENIED', null, { message: 'only admins (auth.admins) may read metrics' });
  };
}
