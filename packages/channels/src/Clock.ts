/**
 * Time as the channels see it: causal-hold timeouts and publish timestamps
 * read it, so tests can drive them with a manual clock instead of sleeping.
 * (Restart windows belong to @liminal/actors' supervisor, which reads `Date.now()`.)
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
