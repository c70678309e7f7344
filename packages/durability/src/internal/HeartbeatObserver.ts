import type { MonotonicClock } from '../MonotonicClock.js';

interface Reading {
  readonly value: number | undefined;
  /** Observer's clock when this value was first read. */
  readonly since: number;
}

/**
 * Decides whether members are dead from their heartbeat counters alone,
 * timed by the observer's own monotonic clock: a member is dead once its
 * counter has not moved for `leaseMs` of this clock. Only the counter's
 * changes matter, never a timestamp written by another machine, so no clock
 * synchronisation between machines is assumed. Counters only grow, so a
 * value read twice means no heartbeat in between, however far apart the
 * readings: a member first read at join and read again later (when it became
 * the one to watch) is judged from the first reading.
 */
export class HeartbeatObserver {
  readonly #readings = new Map<number, Reading>();

  constructor(
    readonly leaseMs: number,
    readonly clock: MonotonicClock,
  ) {}

  /** Records one reading of `member`'s heartbeat counter (`undefined`: never written). */
  observe(member: number, counter: number | undefined): 'alive' | 'dead' {
    const now = this.clock.now();
    const last = this.#readings.get(member);
    if (last === undefined || last.value !== counter) {
      this.#readings.set(member, { value: counter, since: now });
      return 'alive';
    }
    return now - last.since >= this.leaseMs ? 'dead' : 'alive';
  }

  /** Forgets every member not in `members` (they left the group). */
  retain(members: ReadonlySet<number>): void {
    for (const member of this.#readings.keys()) if (!members.has(member)) this.#readings.delete(member);
  }
}
