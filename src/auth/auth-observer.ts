/** What access control reports for metrics. No user, address or repository ever goes into an event. */
export type CredentialKind = 'password' | 'token';

export interface AuthObserver {
  /** Credentials that did not verify: a wrong or unknown password, a bad or expired token. */
  failure(event: { kind: CredentialKind }): void;
  /** A password check made to wait by the per-address slow-down. */
  throttled(event: { delayMs: number }): void;
}

export const NOOP_AUTH_OBSERVER: AuthObserver = { failure() {}, throttled() {} };
