/**
 * Who runs the background work that must happen once, not once per process: a GC run (one at a
 * time, or two would sweep each other's plans) and the scheduled runs of GC and prefetch. One
 * process decides it alone (LocalCoordinator); replicas sharing a store need a shared implementation
 * (a lease in Redis), behind this same interface.
 */
export interface LifecycleCoordinator {
  /** Runs `task` unless a run named `name` is in progress (anywhere the coordinator sees): then `ran` is false. */
  runAlone<T>(name: string, task: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Whether the run of `name` scheduled every `intervalMs` is this instance's to do now. */
  claimScheduled(name: string, intervalMs: number): Promise<boolean>;
}

/** One process: a set of names in progress; every scheduled run is ours. */
export class LocalCoordinator implements LifecycleCoordinator {
  private readonly running = new Set<string>();

  async runAlone<T>(name: string, task: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.running.has(name)) return { ran: false };
    this.running.add(name);
    try {
      return { ran: true, value: await task() };
    } finally {
      this.running.delete(name);
    }
  }

  async claimScheduled(): Promise<boolean> {
    return true;
  }
}
