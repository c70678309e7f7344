import { MemoryStore } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry } from '../src/index.js';

// Ephemeral and durable channels share one partitioner (@liminal/durability's
// partitionFor). Powers of two hide a mismatch between two hashes (their low
// bits can agree), so these counts are not.
describe('a key lands on the same partition in ephemeral and durable channels', () => {
  let registry: ChannelRegistry;
  afterEach(() => registry.closeAll());

  it.each([3, 10, 64])('%i partitions, 200 keys', async (partitions) => {
    registry = new ChannelRegistry({ store: new MemoryStore() });
    const ephemeral = registry.create<number>({ name: 'fast', mode: 'ephemeral', partitions });
    const durable = registry.create<number>({ name: 'kept', mode: 'durable', partitions });
    const keys = Array.from({ length: 200 }, (_, i) => `customer-${i}`);
    const onEphemeral: number[] = [];
    const onDurable: number[] = [];
    for (const [i, key] of keys.entries()) {
      onEphemeral.push((await ephemeral.publish(i, { key })).partition);
      onDurable.push((await durable.publish(i, { key })).partition);
    }
    expect(onEphemeral).toEqual(onDurable);
    expect(new Set(onDurable).size).toBe(partitions);
  });
});
