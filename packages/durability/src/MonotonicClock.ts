import { performance } from 'node:perf_hooks';

/** Milliseconds from an arbitrary origin that never go backwards (not wall-clock time). */
export interface MonotonicClock {
  now(): number;
}

/** `performance.now()`: unaffected by NTP steps or a changed system clock. */
export const monotonicClock: MonotonicClock = { now: () => performance.now() };
