/**
 * The access-control contract the API's identity step is built against (issue 10 provides the
 * real one on Services as `access`; until then the API runs open, as the registry does).
 */
export type Action = 'pull' | 'push' | 'delete';

/** `user` null = anonymous; open mode: `{ user: null, admin: true }`. */
export interface Identity {
  readonly user: string | null;
  readonly admin: boolean;
}

export interface AccessControl {
  readonly mode: 'open' | 'basic' | 'bearer';
  /** Null: credentials were given and do not verify. No credentials: the anonymous identity. */
  identify(authorization: string | undefined, ip: string): Promise<Identity | null>;
  /** The sign-in form. Null: wrong user name or password. */
  signIn(username: string, password: string, ip: string): Promise<Identity | null>;
  /** Proxied repositories stay read-only whatever this says. */
  allows(identity: Identity, action: Action, canonicalName: string): boolean;
}

/** No access control configured: everyone may do everything, like the registry API. */
export const OPEN_ACCESS: AccessControl = {
  mode: 'open',
  identify: async () => ({ user: null, admin: true }),
  signIn: async () => null,
  allows: () => true,
};
