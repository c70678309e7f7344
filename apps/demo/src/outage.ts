import { systemClock, type Clock } from '@liminal/durability';
import { StoreUnavailableError } from '@liminal/store';

export function isOutage(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof StoreUnavailableError) return true;
  }
  return false;
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = clock.setTimeout(done, ms);
    function done() {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `work` again while it fails with a store outage (e.g. a PostgreSQL
 * restart), calling `onOutage` and waiting 200 ms, doubling up to 2 s, before
 * each retry. Any other error, or any error once `signal` is aborted, is thrown.
 */
export async function retryOutages<T>(work: () => Promise<T>, signal: AbortSignal, onOutage: () => void): Promise<T> {
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await work();
    } catch (error) {
      if (signal.aborted || !isOutage(error)) throw error;
      onOutage();
      await sleep(delay, signal);
    }
  }
}
