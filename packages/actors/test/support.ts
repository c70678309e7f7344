import { expect } from 'vitest';

/** One turn of the event loop (timers included), so actors and promises settle. */
export const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Waits, a tick at a time, until `condition` holds; fails after 200 ticks. */
export async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await tick();
  expect(condition()).toBe(true);
}
