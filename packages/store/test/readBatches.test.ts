import { describe, expect, it } from 'vitest';
import { MemoryStore, readBatches, type StoredEntry } from '@liminal/store';

async function collect(batches: AsyncGenerator<StoredEntry[]>): Promise<StoredEntry[][]> {
  const all: StoredEntry[][] = [];
  for await (const batch of batches) all.push(batch);
  return all;
}

describe('readBatches', () => {
  it('yields every entry from fromSeq on, in order, in batches of at most batchSize', async () => {
    const store = new MemoryStore();
    await store.appendMany('s', Array.from({ length: 7 }, (_, i) => new Uint8Array([i])), 0);
    const batches = await collect(readBatches(store, 's', 2, 2));
    expect(batches.map((batch) => batch.map((entry) => entry.sequence))).toEqual([[2, 3], [4, 5], [6]]);
    expect(batches.flat().map((entry) => entry.payload[0])).toEqual([2, 3, 4, 5, 6]);
  });

  it('yields nothing for an empty stream or a start past the end', async () => {
    const store = new MemoryStore();
    expect(await collect(readBatches(store, 'empty', 0, 10))).toEqual([]);
    await store.append('s', new Uint8Array([1]), 0);
    expect(await collect(readBatches(store, 's', 5, 10))).toEqual([]);
  });

  it('rejects a bad batch size with the store’s InvalidArgumentError', async () => {
    const store = new MemoryStore();
    await expect(collect(readBatches(store, 's', 0, 0))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
