import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CasConflictError,
  type DurableStore,
  InvalidArgumentError,
  SequenceConflictError,
  StoreClosedError,
} from '@liminal/store';
import type { StoreKind } from '@liminal/testkit';
import { describeCommitConformance } from './commitConformance.js';
import { describeWatchConformance } from './watchConformance.js';

const bytes = (...values: number[]) => new Uint8Array(values);

/** Every stream with its entries, and the given counters: what "nothing changed" compares. */
async function snapshot(store: DurableStore, counterKeys: readonly string[] = []) {
  const streams: Record<string, unknown> = {};
  for (const name of await store.listStreams('')) streams[name] = await store.readFrom(name, 0, 1_000);
  const counters: Record<string, number | undefined> = {};
  for (const key of counterKeys) counters[key] = await store.readValue(key);
  return { streams, counters };
}

/**
 * The storage contract, as one suite every adapter must pass unchanged
 * (see DurableStore.ts and the package README).
 */
export function describeConformance(kind: StoreKind): void {
  describe(`DurableStore contract: ${kind.name}`, () => {
    let store: DurableStore;
    beforeEach(async () => {
      store = await kind.open();
    });
    afterEach(async () => {
      await store.close();
    });

    describeCommitConformance(() => store);
    describeWatchConformance(() => store);

    describe('streams', () => {
      it('reads a never-written stream as empty', async () => {
        expect(await store.streamLength('nothing')).toBe(0);
        expect(await store.readFrom('nothing', 0, 10)).toEqual([]);
        expect(await store.listStreams('')).toEqual([]);
      });

      it('gives the first append sequence 0', async () => {
        expect(await store.append('s', bytes(1), 0)).toBe(0);
        expect(await store.streamLength('s')).toBe(1);
      });

      it('numbers entries without gaps across append and appendMany', async () => {
        expect(await store.append('s', bytes(0), 0)).toBe(0);
        expect(await store.appendMany('s', [bytes(1), bytes(2), bytes(3)], 1)).toBe(1);
        expect(await store.append('s', bytes(4), 4)).toBe(4);
        const entries = await store.readFrom('s', 0, 100);
        expect(entries).toEqual([0, 1, 2, 3, 4].map((n) => ({ sequence: n, payload: bytes(n) })));
        expect(await store.streamLength('s')).toBe(5);
      });

      it('keeps streams independent of each other', async () => {
        await store.append('s', bytes(1), 0);
        await store.append('s2', bytes(2), 0);
        expect(await store.readFrom('s', 0, 10)).toEqual([{ sequence: 0, payload: bytes(1) }]);
        expect(await store.readFrom('s2', 0, 10)).toEqual([{ sequence: 0, payload: bytes(2) }]);
      });

      it('rejects a stale expectedSeq with SequenceConflictError carrying the real length, writing nothing', async () => {
        await store.appendMany('s', [bytes(0), bytes(1)], 0);
        const before = await snapshot(store);
        for (const attempt of [() => store.append('s', bytes(9), 1), () => store.appendMany('s', [bytes(9)], 0)]) {
          const error = await attempt().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(SequenceConflictError);
          expect(error).toMatchObject({ code: 'SEQUENCE_CONFLICT', stream: 's', actual: 2 });
        }
        expect(await snapshot(store)).toEqual(before);
      });

      it('rejects a future expectedSeq with SequenceConflictError carrying the real length, writing nothing', async () => {
        await store.append('s', bytes(0), 0);
        const before = await snapshot(store);
        await expect(store.append('s', bytes(9), 2)).rejects.toMatchObject({ stream: 's', expected: 2, actual: 1 });
        await expect(store.appendMany('s', [bytes(9), bytes(9)], 5)).rejects.toMatchObject({ expected: 5, actual: 1 });
        await expect(store.append('never', bytes(9), 1)).rejects.toMatchObject({ stream: 'never', expected: 1, actual: 0 });
        await expect(store.append('s', bytes(9), 2)).rejects.toBeInstanceOf(SequenceConflictError);
        expect(await snapshot(store)).toEqual(before);
      });

      it('writes none of an appendMany batch when it conflicts', async () => {
        await store.append('s', bytes(0), 0);
        await expect(store.appendMany('s', [bytes(1), bytes(2), bytes(3)], 0)).rejects.toBeInstanceOf(
          SequenceConflictError,
        );
        expect(await store.readFrom('s', 0, 10)).toEqual([{ sequence: 0, payload: bytes(0) }]);
        expect(await store.appendMany('s', [bytes(1), bytes(2)], 1)).toBe(1);
        expect(await store.streamLength('s')).toBe(3);
      });

      it('treats an empty appendMany as a check of expectedSeq that writes nothing', async () => {
        expect(await store.appendMany('s', [], 0)).toBe(0);
        expect(await store.listStreams('')).toEqual([]);
        await store.append('s', bytes(0), 0);
        expect(await store.appendMany('s', [], 1)).toBe(1);
        await expect(store.appendMany('s', [], 0)).rejects.toMatchObject({ expected: 0, actual: 1 });
        await expect(store.appendMany('s', [], 2)).rejects.toMatchObject({ expected: 2, actual: 1 });
        expect(await store.streamLength('s')).toBe(1);
      });
    });

    describe('appends started together', () => {
      it('give each caller its own sequence, and a conflict fails only its own caller', async () => {
        await store.appendMany('taken', [bytes(0), bytes(1)], 0);
        await store.append('ahead', bytes(0), 0);
        const names = Array.from({ length: 8 }, (_, index) => `fresh-${index}`);
        const outcomes = await Promise.allSettled([
          ...names.map((name, index) => store.append(name, bytes(index), 0)),
          store.append('taken', bytes(9), 1),
          store.append('ahead', bytes(9), 3),
          store.append('ahead', bytes(1), 1),
        ]);
        expect(outcomes.slice(0, 8)).toEqual(names.map(() => ({ status: 'fulfilled', value: 0 })));
        expect(outcomes[8]).toMatchObject({ status: 'rejected', reason: { stream: 'taken', expected: 1, actual: 2 } });
        expect(outcomes[9]).toMatchObject({ status: 'rejected', reason: { stream: 'ahead', expected: 3 } });
        expect(outcomes[10]).toEqual({ status: 'fulfilled', value: 1 });
        for (const [index, name] of names.entries()) {
          expect(await store.readFrom(name, 0, 10)).toEqual([{ sequence: 0, payload: bytes(index) }]);
        }
        expect(await store.streamLength('taken')).toBe(2);
        expect(await store.readFrom('ahead', 0, 10)).toEqual([
          { sequence: 0, payload: bytes(0) },
          { sequence: 1, payload: bytes(1) },
        ]);
      });

      it('apply appends to one stream in call order when the caller does not wait between them', async () => {
        const results = await Promise.all([
          store.append('ordered', bytes(0), 0),
          store.append('other', bytes(0), 0),
          store.append('ordered', bytes(1), 1),
          store.append('ordered', bytes(2), 2),
        ]);
        expect(results).toEqual([0, 0, 1, 2]);
        expect(await store.readFrom('ordered', 0, 10)).toEqual([0, 1, 2].map((n) => ({ sequence: n, payload: bytes(n) })));
      });

      it('store the bytes as they were when append was called, even if the caller reuses its buffer at once', async () => {
        const buffer = bytes(1, 2, 3);
        const single = store.append('reused', buffer, 0);
        buffer.fill(7);
        await single;
        const many = store.appendMany('reused', [buffer], 1);
        buffer.fill(9);
        await many;
        expect((await store.readFrom('reused', 0, 10)).map((entry) => entry.payload)).toEqual([bytes(1, 2, 3), bytes(7, 7, 7)]);
      });
    });

    describe('readFrom', () => {
      beforeEach(async () => {
        await store.appendMany('s', [0, 1, 2, 3, 4].map((n) => bytes(n)), 0);
      });
      const sequences = async (fromSeq: number, limit: number) =>
        (await store.readFrom('s', fromSeq, limit)).map((entry) => entry.sequence);

      it('returns at most limit entries starting at fromSeq', async () => {
        expect(await sequences(0, 2)).toEqual([0, 1]);
        expect(await sequences(2, 1)).toEqual([2]);
        expect(await sequences(1, 3)).toEqual([1, 2, 3]);
      });

      it('returns the rest when limit is larger than what is left', async () => {
        expect(await sequences(3, 100)).toEqual([3, 4]);
        expect(await sequences(0, Number.MAX_SAFE_INTEGER)).toEqual([0, 1, 2, 3, 4]);
      });

      it('returns [] at or past the end', async () => {
        expect(await sequences(5, 10)).toEqual([]);
        expect(await sequences(6, 1)).toEqual([]);
        expect(await sequences(Number.MAX_SAFE_INTEGER, 1)).toEqual([]);
      });
    });

    describe('payloads', () => {
      it('round-trips an empty payload, 1 MiB, and every byte value as plain Uint8Arrays', async () => {
        const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
        const mebibyte = Uint8Array.from({ length: 1 << 20 }, (_, index) => (index * 31 + 7) & 0xff);
        await store.appendMany('p', [new Uint8Array(0), everyByte, mebibyte], 0);
        const entries = await store.readFrom('p', 0, 10);
        expect(entries.map((entry) => entry.payload.byteLength)).toEqual([0, 256, 1 << 20]);
        expect(entries[0]?.payload).toEqual(new Uint8Array(0));
        expect(entries[1]?.payload).toEqual(everyByte);
        expect(Buffer.compare(entries[2]!.payload, mebibyte)).toBe(0);
        for (const entry of entries) expect(Object.getPrototypeOf(entry.payload)).toBe(Uint8Array.prototype);
      });

      it('stores exactly the bytes of a view into a larger buffer', async () => {
        const backing = bytes(1, 2, 3, 4, 5, 6);
        await store.append('p', backing.subarray(2, 4), 0);
        expect((await store.readFrom('p', 0, 1))[0]?.payload).toEqual(bytes(3, 4));
      });

      it('is unaffected by the caller mutating its buffers before or after', async () => {
        const payload = bytes(1, 2, 3);
        await store.append('p', payload, 0);
        payload[0] = 99;
        const [first] = await store.readFrom('p', 0, 1);
        first!.payload[1] = 99;
        expect((await store.readFrom('p', 0, 1))[0]?.payload).toEqual(bytes(1, 2, 3));
      });
    });

    describe('stream names', () => {
      const awkwardNames = [
        `it's`,
        'say "hi"',
        'back`tick',
        'per%cent',
        'under_score',
        'colon:separated:name',
        'back\\slash',
        'ünïcödé',
        '日本語',
        'emoji 😀',
        ' leading and trailing space ',
        "'; DROP TABLE entries; --",
      ];

      it('round-trips names with quotes, unicode, %, _, : and backslash', async () => {
        for (const [index, name] of awkwardNames.entries()) await store.append(name, bytes(index), 0);
        for (const [index, name] of awkwardNames.entries()) {
          expect(await store.readFrom(name, 0, 10)).toEqual([{ sequence: 0, payload: bytes(index) }]);
          expect(await store.streamLength(name)).toBe(1);
        }
        expect(await store.listStreams('')).toEqual([...awkwardNames].sort(byCodePoint));
      });
    });

    describe('listStreams', () => {
      it('treats %, _ and backslash in the prefix literally', async () => {
        for (const name of ['a%b', 'axb', 'a_c', 'abc', 'a\\d', 'ad', 'a%']) await store.append(name, bytes(0), 0);
        expect(await store.listStreams('a%')).toEqual(['a%', 'a%b']);
        expect(await store.listStreams('a_')).toEqual(['a_c']);
        expect(await store.listStreams('a\\')).toEqual(['a\\d']);
        expect(await store.listStreams('a')).toEqual(['a%', 'a%b', 'a\\d', 'a_c', 'abc', 'ad', 'axb']);
        expect(await store.listStreams('b')).toEqual([]);
      });

      it('sorts names by code point, not by UTF-16 unit or locale', async () => {
        const names = ['b', 'B', 'a', 'é', 'e', '\u{ff5e}', '😀', 'a b', 'ab', '\u{10ffff}'];
        for (const name of names) await store.append(name, bytes(0), 0);
        expect(await store.listStreams('')).toEqual(['B', 'a', 'a b', 'ab', 'b', 'e', 'é', '\u{ff5e}', '😀', '\u{10ffff}']);
      });

      it('finds names under prefixes ending in the highest characters', async () => {
        for (const name of ['x\u{10ffff}', 'x\u{10ffff}z', 'x\u{d7ff}z', 'x\u{e000}', 'y']) await store.append(name, bytes(0), 0);
        expect(await store.listStreams('x\u{10ffff}')).toEqual(['x\u{10ffff}', 'x\u{10ffff}z']);
        expect(await store.listStreams('x\u{d7ff}')).toEqual(['x\u{d7ff}z']);
        expect(await store.listStreams('x')).toEqual(['x\u{d7ff}z', 'x\u{e000}', 'x\u{10ffff}', 'x\u{10ffff}z']);
      });

      it('pages with after and limit, each page continuing where the last ended', async () => {
        const names = Array.from({ length: 7 }, (_, index) => `page:${index}`);
        for (const name of [...names].reverse()) await store.append(name, bytes(0), 0);
        await store.append('other', bytes(0), 0);
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listStreams('page:', after === undefined ? { limit: 3 } : { after, limit: 3 });
          if (page.length === 0) break;
          pages.push(page);
          after = page.at(-1);
        }
        expect(pages).toEqual([names.slice(0, 3), names.slice(3, 6), names.slice(6)]);
        expect(await store.listStreams('page:', { after: 'page:2' })).toEqual(names.slice(3));
        expect(await store.listStreams('page:', { after: 'page:25' })).toEqual(names.slice(3));
        expect(await store.listStreams('page:', { after: 'zzz' })).toEqual([]);
        expect(await store.listStreams('', { after: 'a', limit: 1 })).toEqual(['other']);
      });
    });

    describe('listValues', () => {
      it('lists counters under a literal prefix with their values, in code point order, page by page', async () => {
        for (const [index, key] of ['c:b', 'c:a', 'c%', 'c:é', 'c:B', 'd'].entries()) await store.cas(key, 0, index + 1);
        await store.append('c:stream', bytes(0), 0);
        expect(await store.listValues('c:')).toEqual([
          { key: 'c:B', value: 5 },
          { key: 'c:a', value: 2 },
          { key: 'c:b', value: 1 },
          { key: 'c:é', value: 4 },
        ]);
        expect(await store.listValues('c%')).toEqual([{ key: 'c%', value: 3 }]);
        expect(await store.listValues('c:', { limit: 2 })).toEqual([{ key: 'c:B', value: 5 }, { key: 'c:a', value: 2 }]);
        expect(await store.listValues('c:', { after: 'c:a', limit: 2 })).toEqual([{ key: 'c:b', value: 1 }, { key: 'c:é', value: 4 }]);
        expect((await store.listValues('')).map(({ key }) => key)).toEqual(['c%', 'c:B', 'c:a', 'c:b', 'c:é', 'd']);
        expect(await store.listValues('x')).toEqual([]);
      });

      it('rejects a bad prefix or limit before reading', async () => {
        await expect(store.listValues(7 as unknown as string)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.listValues('', { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });
    });

    describe('deleteStream', () => {
      it('removes the stream, which then starts again from sequence 0', async () => {
        await store.appendMany('doomed', [bytes(1), bytes(2)], 0);
        await store.append('doomed-not', bytes(3), 0);
        await store.deleteStream('doomed');
        expect(await store.streamLength('doomed')).toBe(0);
        expect(await store.readFrom('doomed', 0, 10)).toEqual([]);
        expect(await store.listStreams('')).toEqual(['doomed-not']);
        await expect(store.append('doomed', bytes(9), 2)).rejects.toMatchObject({ actual: 0 });
        expect(await store.append('doomed', bytes(4), 0)).toBe(0);
        expect(await store.readFrom('doomed-not', 0, 10)).toEqual([{ sequence: 0, payload: bytes(3) }]);
      });

      it('does nothing for a stream that does not exist', async () => {
        await store.append('kept', bytes(1), 0);
        await store.deleteStream('missing');
        await store.deleteStream('kep%');
        expect(await snapshot(store)).toEqual({ streams: { kept: [{ sequence: 0, payload: bytes(1) }] }, counters: {} });
      });
    });

    describe('counters', () => {
      it('reads a never-written counter as undefined', async () => {
        expect(await store.readValue('absent')).toBeUndefined();
      });

      it('lets cas treat an absent counter as 0', async () => {
        await store.cas('c', 0, 5);
        expect(await store.readValue('c')).toBe(5);
        await store.cas('c', 5, 6);
        await store.cas('c', 6, 0);
        expect(await store.readValue('c')).toBe(0);
        await store.cas('c', 0, Number.MAX_SAFE_INTEGER);
        expect(await store.readValue('c')).toBe(Number.MAX_SAFE_INTEGER);
      });

      it('fails cas on a mismatch with the stored value in the error, writing nothing', async () => {
        await store.cas('c', 0, 3);
        const error = await store.cas('c', 2, 4).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(CasConflictError);
        expect(error).toMatchObject({ code: 'CAS_CONFLICT', key: 'c', expected: 2, actual: 3 });
        await expect(store.cas('c', 0, 4)).rejects.toMatchObject({ expected: 0, actual: 3 });
        expect(await store.readValue('c')).toBe(3);
      });

      it('fails cas on an absent counter unless expected is 0, leaving it absent', async () => {
        await expect(store.cas('absent', 1, 2)).rejects.toMatchObject({ key: 'absent', expected: 1, actual: 0 });
        expect(await store.readValue('absent')).toBeUndefined();
      });

      it('keeps counters apart from streams of the same name', async () => {
        await store.cas('same', 0, 7);
        await store.append('same', bytes(1), 0);
        await store.deleteStream('same');
        expect(await store.readValue('same')).toBe(7);
      });
    });

    describe('close', () => {
      it('makes every later call reject with StoreClosedError, and closing twice is fine', async () => {
        await store.append('s', bytes(1), 0);
        await store.close();
        await store.close();
        const calls: (() => Promise<unknown>)[] = [
          () => store.append('s', bytes(1), 1),
          () => store.appendMany('s', [bytes(1)], 1),
          () => store.readFrom('s', 0, 1),
          () => store.streamLength('s'),
          () => store.listStreams(''),
          () => store.deleteStream('s'),
          () => store.readValue('k'),
          () => store.cas('k', 0, 1),
        ];
        for (const call of calls) {
          const error = await call().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(StoreClosedError);
          expect(error).toMatchObject({ code: 'STORE_CLOSED' });
        }
      });
    });

    describe('invalid arguments', () => {
      const badSequences = [-1, 0.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Number.POSITIVE_INFINITY, '0', null];
      const badLimits = [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1];
      const badNames = ['', 'nul\u0000', 'lone \ud800', 7, undefined];
      const badPayloads = ['text', [1, 2], new ArrayBuffer(2), null, undefined, new Uint16Array(2)];
      const any = (value: unknown) => value as never;

      it('rejects them all with InvalidArgumentError and changes nothing', async () => {
        await store.appendMany('s', [bytes(0), bytes(1)], 0);
        await store.cas('c', 0, 4);
        const before = await snapshot(store, ['c']);
        const calls: (() => Promise<unknown>)[] = [
          ...badSequences.flatMap((bad) => [
            () => store.append('s', bytes(9), any(bad)),
            () => store.appendMany('s', [bytes(9)], any(bad)),
            () => store.readFrom('s', any(bad), 1),
            () => store.cas('c', any(bad), 5),
            () => store.cas('c', 4, any(bad)),
          ]),
          ...badLimits.flatMap((bad) => [
            () => store.readFrom('s', 0, any(bad)),
            () => store.listStreams('', { limit: any(bad) }),
          ]),
          ...badNames.flatMap((bad) => [
            () => store.append(any(bad), bytes(9), 0),
            () => store.appendMany(any(bad), [bytes(9)], 0),
            () => store.readFrom(any(bad), 0, 1),
            () => store.streamLength(any(bad)),
            () => store.deleteStream(any(bad)),
            () => store.readValue(any(bad)),
            () => store.cas(any(bad), 0, 1),
          ]),
          ...badPayloads.flatMap((bad) => [
            () => store.append('s', any(bad), 2),
            () => store.appendMany('s', [bytes(9), any(bad)], 2),
          ]),
          () => store.appendMany('s', any(bytes(9)), 2),
          () => store.listStreams(any(undefined)),
          () => store.listStreams('nul\u0000'),
          () => store.listStreams('', { after: '' }),
          () => store.listStreams('', any(null)),
          () => store.listStreams('', any('limit=1')),
        ];
        for (const call of calls) {
          const error = await call().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
        expect(await snapshot(store, ['c'])).toEqual(before);
      });
    });
  });
}

function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
