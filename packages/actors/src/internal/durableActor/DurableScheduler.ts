import type { EventObject } from 'xstate';
import type { Clock } from '@liminal/durability';
import type { Address, TimerRecord } from './records.js';
import { roundTrip } from './records.js';

/**
 * XState's `system.scheduler` replaced by one whose delayed events (`after`,
 * delayed `raise` / `sendTo`) carry absolute deadlines and stable addresses,
 * so they survive a restore: a replay schedules them again at the deadlines
 * the journal's timestamps give, a snapshot stores the table, and only a
 * live actor arms real timeouts. A firing is an input like any other event:
 * `fire` hands its number to the journal first.
 */
export class DurableScheduler {
  readonly #timers = new Map<number, TimerRecord>();
  readonly #byKey = new Map<string, number>();
  readonly #armed = new Map<number, unknown>();
  #nextTimer = 0;
  #live = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (firing: { readonly kind: 'timer'; readonly timer: number; readonly at: number }) => void,
  ) {}

  get nextTimer(): number {
    return this.#nextTimer;
  }

  load(timers: readonly TimerRecord[], nextTimer: number): void {
    for (const timer of timers) this.#add(timer);
    this.#nextTimer = nextTimer;
  }

  table(): TimerRecord[] {
    return [...this.#timers.values()];
  }

  schedule(source: Address, target: Address, event: EventObject, delay: number, sendId: string | undefined, now: number): void {
    const timer = this.#nextTimer++;
    // The same (source, id) replaces the pending send, as a cancel + send would.
    const id = sendId ?? `liminal.timer.${timer}`;
    const previous = this.#byKey.get(keyOf(source, id));
    if (previous !== undefined) this.#remove(previous);
    this.#add({ timer, source, target, sendId: id, event: roundTrip('delayed event', event), deadline: now + Math.max(0, delay) });
  }

  cancel(source: Address, sendId: string): void {
    const timer = this.#byKey.get(keyOf(source, sendId));
    if (timer !== undefined) this.#remove(timer);
  }

  cancelAll(source: Address): void {
    for (const record of this.#timers.values()) {
      if (record.source.uid === source.uid) this.#remove(record.timer);
    }
  }

  /** Removes and returns a timer that fires; undefined when it was cancelled or replaced since. */
  take(timer: number): TimerRecord | undefined {
    const record = this.#timers.get(timer);
    if (record !== undefined) this.#remove(timer);
    return record;
  }

  /** From now on timers are armed on the clock, earliest deadline first (an overdue one at once). */
  goLive(): void {
    this.#live = true;
    const pending = [...this.#timers.values()].sort((a, b) => a.deadline - b.deadline || a.timer - b.timer);
    for (const record of pending) this.#arm(record);
  }

  stop(): void {
    this.#live = false;
    for (const handle of this.#armed.values()) this.clock.clearTimeout(handle);
    this.#armed.clear();
  }

  #add(record: TimerRecord): void {
    this.#timers.set(record.timer, record);
    this.#byKey.set(keyOf(record.source, record.sendId), record.timer);
    if (this.#live) this.#arm(record);
  }

  #remove(timer: number): void {
    const record = this.#timers.get(timer);
    if (record === undefined) return;
    this.#timers.delete(timer);
    this.#byKey.delete(keyOf(record.source, record.sendId));
    const handle = this.#armed.get(timer);
    if (handle !== undefined) {
      this.clock.clearTimeout(handle);
      this.#armed.delete(timer);
    }
  }

  #arm(record: TimerRecord): void {
    const handle = this.clock.setTimeout(() => {
      this.#armed.delete(record.timer);
      this.fire({ kind: 'timer', timer: record.timer, at: record.deadline });
    }, Math.max(0, record.deadline - this.clock.now()));
    this.#armed.set(record.timer, handle);
  }
}

function keyOf(source: Address, sendId: string): string {
  return `${source.uid}\u0000${sendId}`;
}
