import type { AuthObserver, CredentialKind } from '../auth/auth-observer.js';
import type { StowageMetrics } from './metrics.js';

/** Access control's events, counted into StowageMetrics (no user or address ever becomes a label). */
export class AuthMetrics implements AuthObserver {
  constructor(private readonly metrics: StowageMetrics) {}

  failure({ kind }: { kind: CredentialKind }): void {
    this.metrics.authFailures.inc({ kind });
  }

  throttled({ delayMs }: { delayMs: number }): void {
    this.metrics.authThrottled.inc();
    this.metrics.authThrottleSeconds.inc(delayMs / 1000);
  }
}
