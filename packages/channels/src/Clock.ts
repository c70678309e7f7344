/**
 * Time as the channels see it: causal-hold timeouts, publish timestamps and
 * each channel supervisor's restart window read it, so tests can drive them
 * with a manual clock instead of sleeping or faking `Date`.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
