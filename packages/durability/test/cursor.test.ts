import { CasConflictError, ConfigError, InvalidArgumentError, MemoryStore } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointDriver, ConsumerCursor, CursorRegressionError, recoverCursor, type CheckpointPolicy } from '../src/index.js';
import { storeKinds, useStore } from './support/stores.js';

describe.each(storeKinds)('ConsumerCursor on $name', (kind) => {
  const open = useStore(kind);

  it('resumes a never-checkpointed cursor at 0 and a checkpointed one where it was left', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders:0');
    expect(cursor.currentOffset).toBe(0);
    expect(cursor.cursorKey).toBe('billing:orders:0');
    await cursor.checkpoint(7);
    expect(await store.readValue('billing:orders:0')).toBe(7);
    expect((await recoverCursor(store, 'billing', 'orders', 0)).currentOffset).toBe(7);
  });

  it('refuses a lower offset with CursorRegressionError{stored, attempted} and keeps the stored one', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders:0');
    await cursor.checkpoint(5);
    const error = await cursor.checkpoint(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CursorRegressionError);
    expect(error).toMatchObject({ code: 'CURSOR_REGRESSION', stored: 5, attempted: 3 });
    expect(await store.readValue('billing:orders:0')).toBe(5);
    await cursor.checkpoint(5); // the same offset again is fine
  });

  it('surfaces CasConflictError for a stale concurrent checkpoint and keeps the winner’s offset', async () => {
    const store = await open();
    const a = await ConsumerCursor.resume(store, 'billing', 'orders:0');
    const b = await ConsumerCursor.resume(store, 'billing', 'orders:0');
    await a.checkpoint(4);
    await expect(b.checkpoint(9)).rejects.toBeInstanceOf(CasConflictError);
    expect(b.currentOffset).toBe(0);
    expect(await store.readValue('billing:orders:0')).toBe(4);
  });

  it('rejects invalid offsets before writing', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders:0');
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) await expect(cursor.checkpoint(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.readValue('billing:orders:0')).toBeUndefined();
  });

  it('rejects invalid consumer ids, partition keys and partitions with InvalidArgumentError', async () => {
    const store = await open();
    await expect(ConsumerCursor.resume(store, '', 'orders:0')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ConsumerCursor.resume(store, 'billing', '')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ConsumerCursor.resume(store, 7 as never, 'orders:0')).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const partition of [-1, 0.5, Number.NaN]) {
      await expect(recoverCursor(store, 'billing', 'orders', partition)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(recoverCursor(store, 'billing', '', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe.each(storeKinds)('CheckpointDriver on $name', (kind) => {
  const open = useStore(kind);
  const setup = async (policy: CheckpointPolicy) => {
    const store = await open();
    return { store, cursor: await ConsumerCursor.resume(store, 'c', 'ch:0'), driver: new CheckpointDriver(policy) };
  };

  it('perMessage checkpoints every processed message', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perMessage' });
    await driver.recordProcessed(cursor, 1);
    expect(await store.readValue('c:ch:0')).toBe(1);
    await driver.recordProcessed(cursor, 2);
    expect(await store.readValue('c:ch:0')).toBe(2);
    expect(driver.pendingOffset).toBeUndefined();
  });

  it('perBatch checkpoints after `size` messages and flush persists the rest', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perBatch', size: 3 });
    await driver.recordProcessed(cursor, 1);
    await driver.recordProcessed(cursor, 2);
    expect(await store.readValue('c:ch:0')).toBeUndefined();
    expect(driver.pendingOffset).toBe(2);
    expect(driver.messagesSinceLastCheckpoint).toBe(2);
    await driver.recordProcessed(cursor, 3);
    expect(await store.readValue('c:ch:0')).toBe(3);
    await driver.recordProcessed(cursor, 4);
    await driver.flush(cursor);
    expect(await store.readValue('c:ch:0')).toBe(4);
    expect(driver.messagesSinceLastCheckpoint).toBe(0);
  });

  it('explicitFlush writes only on flush, and an empty flush writes nothing', async () => {
    const { store, cursor, driver } = await setup({ kind: 'explicitFlush' });
    await driver.flush(cursor);
    expect(await store.readValue('c:ch:0')).toBeUndefined();
    for (const offset of [1, 2, 3, 4, 5]) await driver.recordProcessed(cursor, offset);
    expect(await store.readValue('c:ch:0')).toBeUndefined();
    await driver.flush(cursor);
    expect(await store.readValue('c:ch:0')).toBe(5);
  });

  it('rejects an invalid processed offset without counting it or writing', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perMessage' });
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) await expect(driver.recordProcessed(cursor, bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(driver.messagesSinceLastCheckpoint).toBe(0);
    expect(driver.pendingOffset).toBeUndefined();
    expect(await store.readValue('c:ch:0')).toBeUndefined();
  });

  it('keeps the offset pending when the checkpoint fails', async () => {
    const { store, cursor, driver } = await setup({ kind: 'explicitFlush' });
    await (await ConsumerCursor.resume(store, 'c', 'ch:0')).checkpoint(10); // another instance moved on
    await driver.recordProcessed(cursor, 3);
    await expect(driver.flush(cursor)).rejects.toBeInstanceOf(CasConflictError);
    expect(driver.pendingOffset).toBe(3);
  });
});

describe('CheckpointDriver configuration', () => {
  it('rejects perBatch size 0 (and other non-positive sizes) at construction', () => {
    for (const size of [0, -1, 1.5, Number.NaN]) expect(() => new CheckpointDriver({ kind: 'perBatch', size })).toThrow(ConfigError);
    expect(() => new CheckpointDriver({ kind: 'sometimes' } as unknown as CheckpointPolicy)).toThrow(ConfigError);
  });
});

describe('checkpoint sequences (MemoryStore)', () => {
  it('property: the stored offset always equals the highest accepted checkpoint', async () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('checkpoint' as const), instance: fc.integer({ min: 0, max: 2 }), offset: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('resume' as const), instance: fc.integer({ min: 0, max: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 30 }), async (actions) => {
        const store = new MemoryStore();
        const cursors = await Promise.all([0, 1, 2].map(() => ConsumerCursor.resume(store, 'c', 'ch:0')));
        let highest: number | undefined;
        for (const a of actions) {
          if (a.kind === 'resume') {
            cursors[a.instance] = await ConsumerCursor.resume(store, 'c', 'ch:0');
            continue;
          }
          try {
            await cursors[a.instance]!.checkpoint(a.offset);
            expect(a.offset).toBeGreaterThanOrEqual(highest ?? 0);
            highest = a.offset;
          } catch (error) {
            if (!(error instanceof CursorRegressionError || error instanceof CasConflictError)) throw error;
          }
          expect(await store.readValue('c:ch:0')).toBe(highest);
        }
      }),
      { numRuns: 200 },
    );
  });
});
