/**
 * The access decision other parts of Stowage ask: who is calling, and may they do this. The /v2
 * hook (http/v2-access.ts), the token endpoint and the web UI all go through this interface, so a
 * rule means the same thing wherever it is checked.
 */
export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** user null = anonymous. In open mode everyone is { user: null, admin: true }. */
export interface Identity {
  readonly user: string | null;
  readonly admin: boolean;
}

export interface AccessControl {
  readonly mode: 'open' | 'basic' | 'bearer';
  /**
   * The caller behind an Authorization header (Basic in both modes, Bearer in token mode); anonymous
   * when there is none; null when the credentials do not verify (a failure, counted and slowed).
   */
  identify(authorization: string | undefined, ip: string): Promise<Identity | null>;
  /** A username and password (the UI's sign-in form); null when wrong, counted and slowed the same way. */
  signIn(username: string, password: string, ip: string): Promise<Identity | null>;
  /**
   * Whether `identity` may do `action` on the repository with this canonical name. Proxied
   * repositories stay read-only whatever this says.
   */
  allows(identity: Identity, action: Action, canonicalName: string): boolean;
}

/**
 * What `identify` really returns: an Identity plus how it was proven, which decides between 401 and
 * 403 for a denied request, and for a bearer token what the token grants (`repository:<name>` or
 * `registry:catalog` → actions). A token only narrows: the rules are checked on every request too.
 */
export interface Caller extends Identity {
  readonly via: 'open' | 'anonymous' | 'password' | 'token';
  readonly grants?: ReadonlyMap<string, ReadonlySet<string>>;
}

const OPEN_CALLER: Caller = Object.freeze({ user: null, admin: true, via: 'open' });

/** No `auth` section: everyone may do everything (proxied repositories stay read-only). */
export const OPEN_ACCESS: AccessControl = Object.freeze({
  mode: 'open' as const,
  identify: async () => OPEN_CALLER,
  // There are no users to sign in as: the UI's sign-in form has nothing to accept.
  signIn: async () => null,
  allows: () => true,
});
