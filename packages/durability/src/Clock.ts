/**
 * Time as a durable actor sees it: journal timestamps, timer deadlines and
 * the timeouts that fire them. Tests pass a manual clock instead of sleeping
 * or faking `Date`.
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
