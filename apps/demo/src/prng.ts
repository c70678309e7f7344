/**
 * A small seeded PRNG (mulberry32): the same seed gives the same orders and
 * the same crash schedule, so a run can be reproduced with `--seed`.
 */
export type Random = () => number;

export function seededRandom(...seeds: readonly number[]): Random {
  let state = mix(seeds);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Folds several integers into one 32-bit state so (seed, partition, attempt) tuples give unrelated streams.
function mix(seeds: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const seed of seeds) {
    h = Math.imul(h ^ (seed >>> 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(seed / 4294967296), 0x01000193);
    h ^= h >>> 13;
  }
  return h >>> 0;
}
