import { setTimeout as sleep } from 'node:timers/promises';
import { StoreClosedError, type DurableStore } from '@liminal/store';

interface Waiter {
  readonly name: string;
  readonly wake: () => void;
}

/**
 * Wake-ups for streams a member waits on, from the store's `watch` (LISTEN /
 * NOTIFY on PostgreSQL). A wake-up is only a hint: waiters always re-read
 * from their cursor, and every wait also ends after a fallback delay, so a
 * lost notification delays work and never loses it. Generations close the
 * race between "read found nothing" and "start waiting": a wait for a
 * generation already passed returns at once.
 */
export class Wakeups {
  readonly #generation = new Map<string, number>();
  readonly #waiters = new Set<Waiter>();

  constructor(readonly store: DurableStore) {}

  /**
   * Watches the streams under `prefix` until `signal` aborts, waking the
   * waiters of each of `names` (default `prefix` itself); a broken watch is
   * restarted after a short pause.
   */
  follow(prefix: string, signal: AbortSignal, names: readonly string[] = [prefix]): void {
    void (async () => {
      while (!signal.aborted) {
        try {
          for await (const _grown of this.store.watch(prefix, { signal })) for (const name of names) this.notify(name);
        } catch (error) {
          if (error instanceof StoreClosedError) return;
          // The store is unreachable; the fallback delay keeps waiters going meanwhile.
        }
        await sleep(250, undefined, { signal }).catch(() => undefined);
      }
    })();
  }

  /** The current generation of `name`: pass it to `wait` after reading. */
  mark(name: string): number {
    return this.#generation.get(name) ?? 0;
  }

  notify(name: string): void {
    this.#generation.set(name, this.mark(name) + 1);
    for (const waiter of [...this.#waiters]) if (waiter.name === name) waiter.wake();
  }

  /** Resolves once `name` moved past generation `since`, after `ms`, or when `signal` aborts. */
  wait(name: string, since: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.mark(name) !== since || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { name, wake: done };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.add(waiter);
    });
  }
}
