import { describe, expect, it } from 'vitest';
import { MemoryStore, SequenceConflictError } from '@liminal/store';

describe('MemoryStore', () => {
  it('copies payloads so a caller mutating its buffer does not change stored data', async () => {
    const store = new MemoryStore();
    const payload = new Uint8Array([1, 2, 3]);
    await store.append('s', payload, 0);
    payload[0] = 99;
    const [entry] = await store.readFrom('s', 0, 1);
    expect(entry?.payload).toEqual(new Uint8Array([1, 2, 3]));
    await expect(store.append('s', payload, 0)).rejects.toBeInstanceOf(SequenceConflictError);
  });
});
