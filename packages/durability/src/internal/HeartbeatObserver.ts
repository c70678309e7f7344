import type { MonotonicClock } from '../MonotonicClock.js';

/**
 * Decides whether one member is dead from its heartbeat counter alone, timed
 * by the observer's own monotonic clock: the member is dead once the counter
 * has not moved for `leaseMs` of this clock. Only the counter's changes
 * matter, never a timestamp written by another machine, so no clock
 * synchronisation between machines is assumed.
 */
export class HeartbeatObserver {
  #watched: number | undefined;
  #lastValue: number | undefined;
  #changedAt = 0;

  constructor(
    readonly leaseMs: number,
    readonly clock: MonotonicClock,
  ) {}

  /** The member currently watched, if any. */
  get watched(): number | undefined {
    return this.#watched;
  }

  /**
   * Records one reading of `member`'s heartbeat counter (`undefined`: never
   * written). Watching another member starts its lease afresh.
   */
  observe(member: number, counter: number | undefined): 'alive' | 'dead' {
    const now = this.clock.now();
    if (member !== this.#watched) {
      this.#watched = member;
      this.#lastValue = counter;
      this.#changedAt = now;
      return 'alive';
    }
    if (counter !== this.#lastValue) {
      this.#lastValue = counter;
      this.#changedAt = now;
      return 'alive';
    }
    return now - this.#changedAt >= this.leaseMs ? 'dead' : 'alive';
  }

  /** Stops watching (e.g. when alone in the group). */
  reset(): void {
    this.#watched = undefined;
    this.#lastValue = undefined;
  }
}
