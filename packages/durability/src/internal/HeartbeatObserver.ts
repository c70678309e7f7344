import type { MonotonicClock } from '../MonotonicClock.js';

interface Reading {
  readonly value: number | undefined;
  /** Observer's clock when this value was first read. */
  readonly since: number;
  /** Readings of the same value after the first one. */
  misses: number;
}

/**
 * Decides whether members are dead from their heartbeat counters alone,
 * timed by the observer's own monotonic clock and counted in the observer's
 * own readings: a member is dead once its counter has not moved for
 * `leaseMs` of this clock *and* across `missedReadings` readings after the
 * first one. Only the counter's changes matter, never a timestamp written by
 * another machine, so no clock synchronisation between machines is assumed.
 *
 * Why readings are counted, not only time: the observer reads once per beat
 * of its own, right after its own heartbeat was written. When the store is
 * slow for everyone (SQLite saturated by writes, PostgreSQL restarting), the
 * observer's beats slow down with the member's, so the verdict waits for as
 * many of its own beats as a lease holds in normal times; a single late
 * reading after a long stall (the observer's own write blocked, a GC pause)
 * is not a verdict. Counters only grow, so a value read twice means no
 * heartbeat in between, however far apart the readings: a member first read
 * at join and read again later (when it became the one to watch) is judged
 * from the first reading.
 */
export class HeartbeatObserver {
  readonly #readings = new Map<number, Reading>();

  constructor(
    readonly leaseMs: number,
    readonly missedReadings: number,
    readonly clock: MonotonicClock,
  ) {}

  /** Records one reading of `member`'s heartbeat counter (`undefined`: never written). */
  observe(member: number, counter: number | undefined): 'alive' | 'dead' {
    const now = this.clock.now();
    const last = this.#readings.get(member);
    if (last === undefined || last.value !== counter) {
      this.#readings.set(member, { value: counter, since: now, misses: 0 });
      return 'alive';
    }
    last.misses += 1;
    return now - last.since >= this.leaseMs && last.misses >= this.missedReadings ? 'dead' : 'alive';
  }

  /**
   * Forgets every reading: the next reading of each member is its new first
   * one. For an observer that could not read for a while (the store was
   * down): its readings from before say nothing about whether the others
   * beat again once the store came back.
   */
  restart(): void {
    this.#readings.clear();
  }

  /** Forgets every member not in `members` (they left the group). */
  retain(members: ReadonlySet<number>): void {
    for (const member of this.#readings.keys()) if (!members.has(member)) this.#readings.delete(member);
  }
}
