/**
 * When each phase of this worker's first tunnelled request was reached, in ms since the worker
 * started (`performance.now()` counts from there): where a resumed worker spends its time.
 * `/__zt/sw-status` shows it. Only the first time of each phase counts.
 */
export class StartPhases {
  readonly #at = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  mark(phase: string): void {
    if (!this.#at.has(phase) && this.#at.size < 32) this.#at.set(phase, Math.round(this.#now()));
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.#at].sort((a, b) => a[1] - b[1]));
  }
}

/** This worker's phases (one worker per module instance). */
export const startPhases = new StartPhases();
