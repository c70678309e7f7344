import { setTimeout as sleep } from 'node:timers/promises';
import { pgCode } from './pgStatements.js';

/**
 * A statement or transaction PostgreSQL aborted as a deadlock victim or for a
 * serialization failure wrote nothing, so it may simply run again; this many
 * attempts at most, then the error is the caller's.
 */
export const maxTransientAttempts = 5;

/** Deadlock (40P01) and serialization failure (40001). */
export function isTransient(error: unknown): boolean {
  const code = pgCode(error);
  return code === '40P01' || code === '40001';
}

/** Runs `work`, again after a jittered backoff each time it fails transiently (see `maxTransientAttempts`). */
export async function retryTransient<T>(work: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (!isTransient(error) || attempt >= maxTransientAttempts) throw error;
      // Jittered, so two processes that deadlocked do not collide again in step.
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}
