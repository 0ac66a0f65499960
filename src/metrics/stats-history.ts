/** One reading of the cumulative counters the stats charts are drawn from. */
export interface StatsSample {
  at: number;
  /** Proxied manifest and blob requests, and those that went to the upstream (misses). */
  requests: number;
  misses: number;
  bytesFromCache: number;
  bytesFromUpstream: number;
}

/**
 * The process's recent history for the stats charts: a ring of cumulative samples taken every
 * `intervalMs` by lifecycle.ts (the defaults keep an hour of 10 s samples). Consumers chart the
 * differences between neighbours; the numbers reset with the process, as its counters do.
 */
export class StatsHistory {
  private readonly samples: StatsSample[] = [];

  constructor(
    /** How often lifecycle.ts takes a sample. */
    readonly intervalMs = 10_000,
    readonly capacity = 360,
  ) {}

  add(sample: StatsSample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  list(): StatsSample[] {
    return [...this.samples];
  }
}
