/**
 * Fault injection for the fake hub. Every rule matches a request *kind* and is consumed per matching
 * request (`times`, default 1; `Infinity` for "until cleared"). Rules are checked in this order for
 * each request: delay → stall → fail; body rules (cut, ignoreRange) apply when blob bytes are served.
 */
export type HubRequestKind = 'token' | 'manifest' | 'blob' | 'cdn' | 'tags' | 'referrers' | 'other';
/** A kind, or `any` for every request. */
export type FaultTarget = HubRequestKind | 'any';

export interface FailRule {
  status: number;
  /** Sent as `Retry-After` (seconds or an HTTP date). */
  retryAfter?: number | string;
  times?: number;
}

export interface BodyCut {
  afterBytes: number;
  mode: 'reset' | 'stall';
}

interface Counted {
  kind: FaultTarget;
  left: number;
}

export class FakeHubFaults {
  private fails: Array<Counted & { status: number; retryAfter?: number | string }> = [];
  private delays: Array<Counted & { ms: number }> = [];
  private stalls: Counted[] = [];
  private cuts: Array<BodyCut & { left: number }> = [];
  private rangeIgnores: Array<{ left: number }> = [];
  private downMode: 'reset' | 'refuse' | null = null;
  /** Blob bodies are paced to this many bytes per second (a link's speed); null = as fast as possible. */
  bandwidth: number | null = null;

  constructor(private readonly hooks: { down: (mode: 'reset' | 'refuse') => Promise<void>; up: () => Promise<void> }) {}

  /** Answer the next `times` matching requests with `status` (and `Retry-After`) instead of serving them. */
  fail(kind: FaultTarget, rule: FailRule): void {
    this.fails.push({ kind, left: rule.times ?? 1, status: rule.status, ...(rule.retryAfter !== undefined ? { retryAfter: rule.retryAfter } : {}) });
  }

  /** Hold matching responses for `ms` before answering (default: every matching request until cleared). */
  delay(kind: FaultTarget, ms: number, options: { times?: number } = {}): void {
    this.delays.push({ kind, left: options.times ?? Infinity, ms });
  }

  /** Never answer the next `times` matching requests (until the client gives up or the hub closes). */
  stall(kind: FaultTarget, options: { times?: number } = {}): void {
    this.stalls.push({ kind, left: options.times ?? 1 });
  }

  /**
   * Cut the next `times` blob bodies (served directly or by the CDN): send the headers with the full
   * length and `afterBytes` bytes of the body, then destroy the socket (`mode: 'reset'`, default) or
   * keep it open sending nothing more (`mode: 'stall'`, until the client gives up).
   */
  cutBody(options: { afterBytes: number; times?: number; mode?: 'reset' | 'stall' }): void {
    this.cuts.push({ afterBytes: options.afterBytes, mode: options.mode ?? 'reset', left: options.times ?? 1 });
  }

  /** Answer the next `times` ranged blob requests with 200 and the whole blob, as if Range were unsupported. */
  ignoreRange(options: { times?: number } = {}): void {
    this.rangeIgnores.push({ left: options.times ?? 1 });
  }

  /**
   * Take the hub (registry and CDN) down: `reset` accepts connections and destroys them at once;
   * `refuse` stops listening, so connects fail with ECONNREFUSED. Open connections are destroyed.
   */
  async down(mode: 'reset' | 'refuse' = 'reset'): Promise<void> {
    if (this.downMode !== null) await this.up();
    this.downMode = mode;
    await this.hooks.down(mode);
  }

  async up(): Promise<void> {
    if (this.downMode === null) return;
    this.downMode = null;
    await this.hooks.up();
  }

  get isDown(): boolean {
    return this.downMode !== null;
  }

  /** Removes every rule (does not bring a downed hub back up; use `up()`). */
  clear(): void {
    this.fails = [];
    this.delays = [];
    this.stalls = [];
    this.cuts = [];
    this.rangeIgnores = [];
    this.bandwidth = null;
  }

  // ---- consumed by the hub ----

  takeDelay(kind: HubRequestKind): number {
    return take(this.delays, kind)?.ms ?? 0;
  }

  takeStall(kind: HubRequestKind): boolean {
    return take(this.stalls, kind) !== undefined;
  }

  takeFail(kind: HubRequestKind): { status: number; retryAfter?: number | string } | undefined {
    return take(this.fails, kind);
  }

  takeCut(): BodyCut | null {
    const rule = this.cuts.find((r) => r.left > 0);
    if (!rule) return null;
    rule.left--;
    return { afterBytes: rule.afterBytes, mode: rule.mode };
  }

  takeIgnoreRange(): boolean {
    const rule = this.rangeIgnores.find((r) => r.left > 0);
    if (!rule) return false;
    rule.left--;
    return true;
  }
}

function take<T extends Counted>(rules: T[], kind: HubRequestKind): T | undefined {
  const rule = rules.find((r) => r.left > 0 && (r.kind === 'any' || r.kind === kind));
  if (rule) rule.left--;
  return rule;
}
