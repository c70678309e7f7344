import { describe, expect, it } from 'vitest';
import {
  CasConflictError,
  CheckFailedError,
  CommitConflictError,
  type DurableStore,
  InvalidArgumentError,
  SequenceConflictError,
  StoreClosedError,
  type WriteOp,
} from '@liminal/store';

const bytes = (...values: number[]) => new Uint8Array(values);

async function contents(store: DurableStore, streams: readonly string[], keys: readonly string[]) {
  const entries: Record<string, unknown> = {};
  for (const name of streams) entries[name] = await store.readFrom(name, 0, 1_000);
  const counters: Record<string, number | undefined> = {};
  for (const key of keys) counters[key] = await store.readValue(key);
  return { entries, counters, listed: await store.listStreams('') };
}

async function conflictOf(promise: Promise<unknown>): Promise<CommitConflictError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CommitConflictError);
  return error as CommitConflictError;
}

/** `commit(ops)`: the atomic multi-op write of DESIGN.md Part 2, on every adapter. */
export function describeCommitConformance(current: () => DurableStore): void {
  describe('commit', () => {
    it('applies appends, cas, check and deleteStream together, with firstSeqs aligned to the ops', async () => {
      const store = current();
      await store.appendMany('old', [bytes(0), bytes(1)], 0);
      await store.append('log', bytes(0), 0);
      await store.cas('epoch', 0, 3);
      const result = await store.commit([
        { op: 'check', key: 'epoch', equals: 3 },
        { op: 'append', stream: 'log', payloads: [bytes(1), bytes(2)], expectedSeq: 1 },
        { op: 'cas', key: 'cursor', expected: 0, next: 9 },
        { op: 'deleteStream', stream: 'old', expectedLength: 2 },
        { op: 'append', stream: 'fresh', payloads: [bytes(7)], expectedSeq: 0 },
      ]);
      expect(result.firstSeqs).toEqual([undefined, 1, undefined, undefined, 0]);
      expect(result.firstSeqs).toHaveLength(5);
      expect(await contents(store, ['log', 'old', 'fresh'], ['epoch', 'cursor'])).toEqual({
        entries: {
          log: [0, 1, 2].map((n) => ({ sequence: n, payload: bytes(n) })),
          old: [],
          fresh: [{ sequence: 0, payload: bytes(7) }],
        },
        counters: { epoch: 3, cursor: 9 },
        listed: ['fresh', 'log'],
      });
      expect(await store.append('old', bytes(5), 0)).toBe(0);
    });

    it('lets each op see what the ops before it in the same commit wrote', async () => {
      const store = current();
      const result = await store.commit([
        { op: 'append', stream: 's', payloads: [bytes(0)], expectedSeq: 0 },
        { op: 'append', stream: 's', payloads: [bytes(1), bytes(2)], expectedSeq: 1 },
        { op: 'cas', key: 'k', expected: 0, next: 1 },
        { op: 'check', key: 'k', equals: 1 },
        { op: 'cas', key: 'k', expected: 1, next: 2 },
        { op: 'append', stream: 'gone', payloads: [bytes(0)], expectedSeq: 0 },
        { op: 'deleteStream', stream: 'gone', expectedLength: 1 },
        { op: 'append', stream: 'gone', payloads: [bytes(5)], expectedSeq: 0 },
      ]);
      expect(result.firstSeqs).toEqual([0, 1, undefined, undefined, undefined, 0, undefined, 0]);
      expect(await contents(store, ['s', 'gone'], ['k'])).toEqual({
        entries: {
          s: [0, 1, 2].map((n) => ({ sequence: n, payload: bytes(n) })),
          gone: [{ sequence: 0, payload: bytes(5) }],
        },
        counters: { k: 2 },
        listed: ['gone', 's'],
      });
    });

    it('treats an absent counter as 0 in check and cas, and an empty append as a length check', async () => {
      const store = current();
      await store.append('s', bytes(0), 0);
      const result = await store.commit([
        { op: 'check', key: 'absent', equals: 0 },
        { op: 'append', stream: 's', payloads: [], expectedSeq: 1 },
        { op: 'append', stream: 'never', payloads: [], expectedSeq: 0 },
      ]);
      expect(result.firstSeqs).toEqual([undefined, 1, 0]);
      expect(await contents(store, ['s'], ['absent'])).toEqual({
        entries: { s: [{ sequence: 0, payload: bytes(0) }] },
        counters: { absent: undefined },
        listed: ['s'],
      });
    });

    it('names the failing op and its cause, and writes nothing, for every kind of condition', async () => {
      const store = current();
      await store.appendMany('s', [bytes(0), bytes(1)], 0);
      await store.cas('k', 0, 5);
      const before = await contents(store, ['s', 't'], ['k', 'n']);
      const prefix: WriteOp[] = [
        { op: 'append', stream: 't', payloads: [bytes(1)], expectedSeq: 0 },
        { op: 'cas', key: 'n', expected: 0, next: 1 },
      ];
      const cases: [WriteOp, new (...args: never[]) => Error, Record<string, unknown>][] = [
        [{ op: 'append', stream: 's', payloads: [bytes(9)], expectedSeq: 1 }, SequenceConflictError, { code: 'SEQUENCE_CONFLICT', stream: 's', expected: 1, actual: 2 }],
        [{ op: 'append', stream: 's', payloads: [], expectedSeq: 3 }, SequenceConflictError, { stream: 's', expected: 3, actual: 2 }],
        [{ op: 'cas', key: 'k', expected: 4, next: 6 }, CasConflictError, { code: 'CAS_CONFLICT', key: 'k', expected: 4, actual: 5 }],
        [{ op: 'cas', key: 'absent', expected: 1, next: 6 }, CasConflictError, { key: 'absent', expected: 1, actual: 0 }],
        [{ op: 'check', key: 'k', equals: 4 }, CheckFailedError, { code: 'CHECK_FAILED', key: 'k', expected: 4, actual: 5 }],
        [{ op: 'check', key: 'absent', equals: 1 }, CheckFailedError, { key: 'absent', expected: 1, actual: 0 }],
        [{ op: 'deleteStream', stream: 's', expectedLength: 1 }, SequenceConflictError, { stream: 's', expected: 1, actual: 2 }],
        [{ op: 'deleteStream', stream: 's', expectedLength: 3 }, SequenceConflictError, { stream: 's', expected: 3, actual: 2 }],
      ];
      for (const [failing, causeClass, fields] of cases) {
        const error = await conflictOf(store.commit([...prefix, failing, { op: 'cas', key: 'k', expected: 5, next: 8 }]));
        expect(error).toMatchObject({ code: 'COMMIT_CONFLICT', index: 2 });
        expect(error.cause).toBeInstanceOf(causeClass);
        expect(error.cause).toMatchObject(fields);
        expect(await contents(store, ['s', 't'], ['k', 'n'])).toEqual(before);
      }
    });

    it('reports the first failing op in the order given when several fail', async () => {
      const store = current();
      await store.append('z-stream', bytes(0), 0);
      const error = await conflictOf(
        store.commit([
          { op: 'append', stream: 'z-stream', payloads: [bytes(1)], expectedSeq: 1 },
          { op: 'check', key: 'z-key', equals: 2 },
          { op: 'append', stream: 'a-stream', payloads: [bytes(1)], expectedSeq: 4 },
          { op: 'cas', key: 'a-key', expected: 3, next: 4 },
        ]),
      );
      expect(error.index).toBe(1);
      expect(error.cause).toBeInstanceOf(CheckFailedError);
      expect(await store.streamLength('z-stream')).toBe(1);
    });

    it('judges a later op on the state the earlier ops of the commit leave', async () => {
      const store = current();
      const error = await conflictOf(
        store.commit([
          { op: 'append', stream: 's', payloads: [bytes(0)], expectedSeq: 0 },
          { op: 'append', stream: 's', payloads: [bytes(1)], expectedSeq: 0 },
        ]),
      );
      expect(error).toMatchObject({ index: 1, cause: { stream: 's', expected: 0, actual: 1 } });
      expect(await store.streamLength('s')).toBe(0);
      expect(await store.listStreams('')).toEqual([]);
    });

    it('never deletes an entry appended after the deleter looked', async () => {
      const store = current();
      await store.append('sweep', bytes(0), 0);
      const seen = await store.streamLength('sweep');
      await store.append('sweep', bytes(1), 1);
      const error = await conflictOf(store.commit([{ op: 'deleteStream', stream: 'sweep', expectedLength: seen }]));
      expect(error.cause).toMatchObject({ stream: 'sweep', expected: 1, actual: 2 });
      expect(await store.readFrom('sweep', 0, 10)).toEqual([0, 1].map((n) => ({ sequence: n, payload: bytes(n) })));
      await store.commit([{ op: 'deleteStream', stream: 'sweep', expectedLength: 2 }]);
      expect(await store.streamLength('sweep')).toBe(0);
      await store.commit([{ op: 'deleteStream', stream: 'never-written', expectedLength: 0 }]);
    });

    it('gives commits started together their own results; one conflict fails only its own caller', async () => {
      const store = current();
      await store.append('taken', bytes(0), 0);
      const names = Array.from({ length: 6 }, (_, index) => `c-${index}`);
      const outcomes = await Promise.allSettled([
        ...names.map((name, index) =>
          store.commit([
            { op: 'append', stream: name, payloads: [bytes(index)], expectedSeq: 0 },
            { op: 'cas', key: `${name}-cursor`, expected: 0, next: index + 1 },
          ]),
        ),
        store.commit([
          { op: 'cas', key: 'shared', expected: 0, next: 1 },
          { op: 'append', stream: 'taken', payloads: [bytes(9)], expectedSeq: 0 },
        ]),
        store.commit([{ op: 'cas', key: 'shared', expected: 0, next: 2 }]),
      ]);
      expect(outcomes.slice(0, 6)).toEqual(names.map(() => ({ status: 'fulfilled', value: { firstSeqs: [0, undefined] } })));
      expect(outcomes[6]).toMatchObject({ status: 'rejected', reason: { code: 'COMMIT_CONFLICT', index: 1 } });
      expect(outcomes[7]).toEqual({ status: 'fulfilled', value: { firstSeqs: [undefined] } });
      for (const [index, name] of names.entries()) {
        expect(await store.readFrom(name, 0, 10)).toEqual([{ sequence: 0, payload: bytes(index) }]);
        expect(await store.readValue(`${name}-cursor`)).toBe(index + 1);
      }
      expect(await store.readValue('shared')).toBe(2);
      expect(await store.streamLength('taken')).toBe(1);
    });

    it('applies commits and appends on one stream in call order when the caller does not wait between them', async () => {
      const store = current();
      const results = await Promise.all([
        store.append('ordered', bytes(0), 0),
        store.commit([{ op: 'append', stream: 'ordered', payloads: [bytes(1), bytes(2)], expectedSeq: 1 }]),
        store.append('ordered', bytes(3), 3),
        store.commit([{ op: 'append', stream: 'ordered', payloads: [bytes(4)], expectedSeq: 4 }]),
        store.appendMany('ordered', [bytes(5)], 5),
      ]);
      expect(results).toEqual([0, { firstSeqs: [1] }, 3, { firstSeqs: [4] }, 5]);
      expect(await store.readFrom('ordered', 0, 10)).toEqual([0, 1, 2, 3, 4, 5].map((n) => ({ sequence: n, payload: bytes(n) })));
    });

    it('stores the bytes as they were when commit was called', async () => {
      const store = current();
      const buffer = bytes(1, 2, 3);
      const pending = store.commit([{ op: 'append', stream: 'reused', payloads: [buffer], expectedSeq: 0 }]);
      buffer.fill(7);
      await pending;
      expect(await store.readFrom('reused', 0, 1)).toEqual([{ sequence: 0, payload: bytes(1, 2, 3) }]);
    });

    it('rejects an empty list and malformed ops with InvalidArgumentError before writing anything', async () => {
      const store = current();
      await store.append('s', bytes(0), 0);
      const before = await contents(store, ['s', 'new'], ['k']);
      const good: WriteOp = { op: 'append', stream: 'new', payloads: [bytes(1)], expectedSeq: 0 };
      const any = (value: unknown) => value as never;
      const sparseOps: WriteOp[] = [good];
      sparseOps.length = 2;
      const sparsePayloads: Uint8Array[] = [];
      sparsePayloads[1] = bytes(1);
      const bad: unknown[] = [
        [],
        undefined,
        'ops',
        { 0: good, length: 1 },
        sparseOps,
        [good, null],
        [good, { op: 'put', key: 'k', value: 1 }],
        [good, { stream: 's' }],
        [good, { op: 'append', stream: '', payloads: [bytes(1)], expectedSeq: 1 }],
        [good, { op: 'append', stream: 's', payloads: [bytes(1)], expectedSeq: -1 }],
        [good, { op: 'append', stream: 's', payloads: sparsePayloads, expectedSeq: 1 }],
        [good, { op: 'append', stream: 's', payloads: new Array(2), expectedSeq: 1 }],
        [good, { op: 'append', stream: 's', payloads: ['text'], expectedSeq: 1 }],
        [good, { op: 'append', stream: 's', payloads: bytes(1), expectedSeq: 1 }],
        [good, { op: 'cas', key: 'k', expected: 0, next: 0.5 }],
        [good, { op: 'cas', key: 'nul\u0000', expected: 0, next: 1 }],
        [good, { op: 'check', key: 'k', equals: '0' }],
        [good, { op: 'check', key: 7, equals: 0 }],
        [good, { op: 'deleteStream', stream: 's', expectedLength: Number.NaN }],
        [good, { op: 'deleteStream', stream: 's' }],
      ];
      for (const ops of bad) {
        const error = await store.commit(any(ops)).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      expect(await contents(store, ['s', 'new'], ['k'])).toEqual(before);
    });

    it("applies a commit of 'clientLifetime' durability as any other: atomic, conditions checked, in call order", async () => {
      const store = current();
      const relaxed = { durability: 'clientLifetime' } as const;
      const claim = store.commit([{ op: 'append', stream: 'claim', payloads: [bytes(1)], expectedSeq: 0 }, { op: 'cas', key: 'epoch', expected: 0, next: 1 }], relaxed);
      const receipt = store.commit([{ op: 'check', key: 'epoch', equals: 1 }, { op: 'append', stream: 'claim', payloads: [bytes(2)], expectedSeq: 1 }]);
      expect(await claim).toEqual({ firstSeqs: [0, undefined] });
      expect(await receipt).toEqual({ firstSeqs: [undefined, 1] });
      const before = await contents(store, ['claim'], ['epoch']);
      const error = await conflictOf(store.commit([{ op: 'cas', key: 'epoch', expected: 1, next: 2 }, { op: 'append', stream: 'claim', payloads: [bytes(3)], expectedSeq: 0 }], relaxed));
      expect(error.index).toBe(1);
      expect(await contents(store, ['claim'], ['epoch'])).toEqual(before);
      await store.commit([{ op: 'append', stream: 'claim', payloads: [bytes(3)], expectedSeq: 2 }], { durability: 'full' });
      expect((await store.readFrom('claim', 0, 10)).map((entry) => entry.payload[0])).toEqual([1, 2, 3]);
    });

    it('rejects bad commit options with InvalidArgumentError before writing anything', async () => {
      const store = current();
      const good: WriteOp = { op: 'append', stream: 'opts', payloads: [bytes(1)], expectedSeq: 0 };
      for (const options of [null, 'clientLifetime', { durability: 'none' }, { durability: 1 }, { durability: null }]) {
        const error = await store.commit([good], options as never).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      expect(await store.streamLength('opts')).toBe(0);
    });

    it('rejects with StoreClosedError once the store is closed', async () => {
      const store = current();
      await store.close();
      await expect(store.commit([{ op: 'check', key: 'k', equals: 0 }])).rejects.toBeInstanceOf(StoreClosedError);
    });
  });
}
