import { InvalidArgumentError, MemoryStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { DurableChannel, partitionFor } from '../src/index.js';

describe('partitionFor', () => {
  it('is FNV-1a 64 of the key modulo the partition count (pinned: durable partitions are stored data)', () => {
    // Changing these values moves stored keys to other partitions: see the README.
    const keys = ['', 'a', 'foobar', 'order-1', 'order-2', 'é', '🦀'];
    // Computed independently of this code (FNV-1a 64 by hand, then modulo).
    expect(keys.map((key) => partitionFor(key, 3))).toEqual([2, 1, 0, 0, 0, 1, 2]);
    expect(keys.map((key) => partitionFor(key, 10))).toEqual([7, 6, 8, 5, 2, 7, 0]);
    expect(keys.map((key) => partitionFor(key, 64))).toEqual([37, 12, 40, 45, 20, 1, 38]);
    for (const key of keys) expect(partitionFor(key, 1)).toBe(0);
  });

  it('spreads keys over every partition for counts that are not powers of two', () => {
    for (const partitions of [3, 10, 64]) {
      const used = new Set(Array.from({ length: 2_000 }, (_, i) => partitionFor(`key-${i}`, partitions)));
      expect(used.size).toBe(partitions);
    }
  });

  it('is what DurableChannel.partitionFor answers', () => {
    const store = new MemoryStore();
    for (const partitions of [3, 10, 64]) {
      const channel = new DurableChannel(store, `c${partitions}`, { partitions });
      for (let i = 0; i < 200; i++) expect(channel.partitionFor(`k${i}`)).toBe(partitionFor(`k${i}`, partitions));
    }
  });

  it('refuses a bad partition count or a key that is not a string', () => {
    for (const partitions of [0, -1, 1.5, Number.NaN]) expect(() => partitionFor('k', partitions)).toThrow(InvalidArgumentError);
    expect(() => partitionFor(5 as never, 3)).toThrow(InvalidArgumentError);
  });
});
