import { CasConflictError, ConfigError, InvalidArgumentError, MemoryStore } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointDriver, ConsumerCursor, cursorKeyFor, CursorRegressionError, recoverCursor, type CheckpointPolicy } from '../src/index.js';

const billingKey = cursorKeyFor('billing', 'orders', 0);
const key = cursorKeyFor('c', 'ch', 0);
import { storeKinds, useStore } from './support/stores.js';

describe.each(storeKinds)('ConsumerCursor on $name', (kind) => {
  const open = useStore(kind);

  it('resumes a never-checkpointed cursor at 0 and a checkpointed one where it was left', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders', 0);
    expect(cursor.currentOffset).toBe(0);
    expect(cursor.cursorKey).toBe('cursor/billing/orders/0');
    await cursor.checkpoint(7);
    expect(await store.readValue(billingKey)).toBe(7);
    expect((await recoverCursor(store, 'billing', 'orders', 0)).currentOffset).toBe(7);
  });

  it('refuses a lower offset with CursorRegressionError{stored, attempted} and keeps the stored one', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders', 0);
    await cursor.checkpoint(5);
    const error = await cursor.checkpoint(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CursorRegressionError);
    expect(error).toMatchObject({ code: 'CURSOR_REGRESSION', stored: 5, attempted: 3 });
    expect(await store.readValue(billingKey)).toBe(5);
    await cursor.checkpoint(5); // the same offset again is fine
  });

  it('surfaces CasConflictError for a stale concurrent checkpoint and keeps the winner’s offset', async () => {
    const store = await open();
    const a = await ConsumerCursor.resume(store, 'billing', 'orders', 0);
    const b = await ConsumerCursor.resume(store, 'billing', 'orders', 0);
    await a.checkpoint(4);
    await expect(b.checkpoint(9)).rejects.toBeInstanceOf(CasConflictError);
    expect(b.currentOffset).toBe(0);
    expect(await store.readValue(billingKey)).toBe(4);
  });

  it('rejects invalid offsets before writing', async () => {
    const store = await open();
    const cursor = await ConsumerCursor.resume(store, 'billing', 'orders', 0);
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) await expect(cursor.checkpoint(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.readValue(billingKey)).toBeUndefined();
  });

  it('gives consumers whose names only join alike separate cursors', async () => {
    const store = await open();
    // `billing:v2` on `orders` and `billing` on `v2:orders` used to share the counter `billing:v2:orders:0`.
    expect(cursorKeyFor('billing:v2', 'orders', 0)).not.toBe(cursorKeyFor('billing', 'v2:orders', 0));
    expect(cursorKeyFor('billing/v2', 'orders', 0)).not.toBe(cursorKeyFor('billing', 'v2/orders', 0));
    expect(cursorKeyFor('a%2Fb', 'c', 0)).not.toBe(cursorKeyFor('a/b', 'c', 0));
    const first = await ConsumerCursor.resume(store, 'billing:v2', 'orders', 0);
    await first.checkpoint(10);
    expect((await ConsumerCursor.resume(store, 'billing', 'v2:orders', 0)).currentOffset).toBe(0);
    expect((await ConsumerCursor.resume(store, 'billing/v2', 'orders', 0)).currentOffset).toBe(0);
  });

  it('rejects invalid consumer ids, channels and partitions with InvalidArgumentError', async () => {
    const store = await open();
    await expect(ConsumerCursor.resume(store, '', 'orders', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ConsumerCursor.resume(store, 'billing', '', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ConsumerCursor.resume(store, 7 as never, 'orders', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
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
    return { store, cursor: await ConsumerCursor.resume(store, 'c', 'ch', 0), driver: new CheckpointDriver(policy) };
  };

  it('perMessage checkpoints every processed message', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perMessage' });
    await driver.recordProcessed(cursor, 0);
    expect(await store.readValue(key)).toBe(1);
    await driver.recordProcessed(cursor, 1);
    expect(await store.readValue(key)).toBe(2);
    expect(driver.pendingOffset(cursor)).toBeUndefined();
  });

  it('perBatch checkpoints after `size` messages and flush persists the rest', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perBatch', size: 3 });
    await driver.recordProcessed(cursor, 0);
    await driver.recordProcessed(cursor, 1);
    expect(await store.readValue(key)).toBeUndefined();
    expect(driver.pendingOffset(cursor)).toBe(2);
    expect(driver.messagesSinceLastCheckpoint(cursor)).toBe(2);
    await driver.recordProcessed(cursor, 2);
    expect(await store.readValue(key)).toBe(3);
    await driver.recordProcessed(cursor, 3);
    await driver.flush(cursor);
    expect(await store.readValue(key)).toBe(4);
    expect(driver.messagesSinceLastCheckpoint(cursor)).toBe(0);
  });

  it('explicitFlush writes only on flush, and an empty flush writes nothing', async () => {
    const { store, cursor, driver } = await setup({ kind: 'explicitFlush' });
    await driver.flush(cursor);
    expect(await store.readValue(key)).toBeUndefined();
    for (const offset of [0, 1, 2, 3, 4]) await driver.recordProcessed(cursor, offset);
    expect(await store.readValue(key)).toBeUndefined();
    await driver.flush(cursor);
    expect(await store.readValue(key)).toBe(5);
  });

  it('never checkpoints over an unprocessed offset when messages complete out of order', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perMessage' });
    await driver.recordProcessed(cursor, 1);
    await driver.recordProcessed(cursor, 3);
    expect(await store.readValue(key)).toBeUndefined(); // offset 0 is still being handled
    expect(driver.pendingOffset(cursor)).toBeUndefined();
    await driver.recordProcessed(cursor, 0);
    expect(await store.readValue(key)).toBe(2); // 0 and 1 are done; 2 is not
    await driver.recordProcessed(cursor, 2);
    expect(await store.readValue(key)).toBe(4);
    await driver.recordProcessed(cursor, 1); // a redelivered duplicate below the cursor changes nothing
    expect(await store.readValue(key)).toBe(4);
  });

  it('rejects an invalid processed offset without counting it or writing', async () => {
    const { store, cursor, driver } = await setup({ kind: 'perMessage' });
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) await expect(driver.recordProcessed(cursor, bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(driver.messagesSinceLastCheckpoint(cursor)).toBe(0);
    expect(driver.pendingOffset(cursor)).toBeUndefined();
    expect(await store.readValue(key)).toBeUndefined();
  });

  it('keeps the offset pending when the checkpoint fails', async () => {
    const { store, cursor, driver } = await setup({ kind: 'explicitFlush' });
    await (await ConsumerCursor.resume(store, 'c', 'ch', 0)).checkpoint(10); // another instance moved on
    await driver.recordProcessed(cursor, 2);
    await driver.recordProcessed(cursor, 1);
    await driver.recordProcessed(cursor, 0);
    await expect(driver.flush(cursor)).rejects.toBeInstanceOf(CasConflictError);
    expect(driver.pendingOffset(cursor)).toBe(3);
  });
});

describe('contiguous checkpoints under any completion order (MemoryStore)', () => {
  it('property: the stored offset is always the length of the processed prefix', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 25 }).chain((n) => fc.tuple(fc.shuffledSubarray([...Array(n).keys()], { minLength: n }), fc.integer({ min: 1, max: 4 }))),
        async ([order, size]) => {
          const store = new MemoryStore();
          const cursor = await ConsumerCursor.resume(store, 'c', 'ch', 0);
          const driver = new CheckpointDriver({ kind: 'perBatch', size });
          const done = new Set<number>();
          for (const offset of order) {
            await driver.recordProcessed(cursor, offset);
            done.add(offset);
            let prefix = 0;
            while (done.has(prefix)) prefix++;
            const stored = (await store.readValue(key)) ?? 0;
            expect(stored).toBeLessThanOrEqual(prefix);
            expect(prefix - stored).toBeLessThan(size);
          }
          await driver.flush(cursor);
          expect(await store.readValue(key)).toBe(order.length);
        },
      ),
      { numRuns: 200 },
    );
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
        const cursors = await Promise.all([0, 1, 2].map(() => ConsumerCursor.resume(store, 'c', 'ch', 0)));
        let highest: number | undefined;
        for (const a of actions) {
          if (a.kind === 'resume') {
            cursors[a.instance] = await ConsumerCursor.resume(store, 'c', 'ch', 0);
            continue;
          }
          const held = cursors[a.instance]!.currentOffset;
          try {
            await cursors[a.instance]!.checkpoint(a.offset);
            if (a.offset !== held) {
              // A write happened: it can only have moved the stored offset forward.
              expect(a.offset).toBeGreaterThanOrEqual(highest ?? 0);
              highest = a.offset;
            }
          } catch (error) {
            if (!(error instanceof CursorRegressionError || error instanceof CasConflictError)) throw error;
          }
          expect(await store.readValue(key)).toBe(highest);
        }
      }),
      { numRuns: 200 },
    );
  });
});
