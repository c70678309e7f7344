/**
 * A clock that moves only when the test says so, for code that takes a
 * `Clock` (`@liminal/durability`: `now`, `setTimeout`, `clearTimeout`). It
 * matches that interface structurally: the testkit depends on the store only,
 * since durability's own tests use the testkit.
 */
export class ManualClock {
  #now: number;
  #nextHandle = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timeouts set and not yet run or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, running every timeout that falls due on the
   * way in deadline order (ties in the order they were set), with `now()` at
   * each one's deadline while it runs; a timeout set by a callback runs too if
   * it falls due within the same advance.
   */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].callback();
    }
    this.#now = until;
  }
}
