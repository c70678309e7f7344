import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { type DurableStore, InvalidArgumentError, storeLimits } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';

const kinds = await availableStoreKinds();

async function withStore(open: () => Promise<DurableStore>, work: (store: DurableStore) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

describe.each(kinds)('limits and odd values, the same on every adapter: $name', (kind) => {
  it('accepts a name of exactly maxNameBytes UTF-8 bytes and refuses one byte more, before storage', async () => {
    await withStore(kind.open, async (store) => {
      const longest = 'é'.repeat(storeLimits.maxNameBytes / 2);
      expect(await store.append(longest, new Uint8Array([1]), 0)).toBe(0);
      expect(await store.listStreams('é')).toEqual([longest]);
      for (const call of [
        () => store.append(`${longest}x`, new Uint8Array([1]), 0),
        () => store.cas(`${longest}x`, 0, 1),
        () => store.commit([{ op: 'check', key: `${longest}x`, equals: 0 }]),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: expect.stringContaining(`${storeLimits.maxNameBytes}`) });
      }
    });
  });

  it('refuses a payload over maxPayloadBytes with InvalidArgumentError', async () => {
    await withStore(kind.open, async (store) => {
      const tooBig = new Uint8Array(storeLimits.maxPayloadBytes + 1);
      await expect(store.append('s', tooBig, 0)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.commit([{ op: 'append', stream: 's', payloads: [tooBig], expectedSeq: 0 }])).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      expect(await store.listStreams('')).toEqual([]);
    });
  });

  it('fails only the caller of an unstorable append, not the appends grouped with it', async () => {
    await withStore(kind.open, async (store) => {
      const names = Array.from({ length: 63 }, (_, index) => `mate-${index}`);
      const outcomes = await Promise.allSettled([
        ...names.map((name) => store.append(name, new Uint8Array([1]), 0)),
        store.append('x'.repeat(3_000), new Uint8Array([1]), 0),
      ]);
      expect(outcomes.slice(0, 63).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      expect(outcomes[63]).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_ARGUMENT', argument: 'stream' } });
      expect(await store.listStreams('mate-')).toHaveLength(63);
    });
  });

  it('refuses sparse payload arrays everywhere, storing nothing', async () => {
    await withStore(kind.open, async (store) => {
      const holeFirst: Uint8Array[] = [];
      holeFirst[1] = new Uint8Array([1]);
      await expect(store.appendMany('a', holeFirst, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'payloads[0]' });
      await expect(store.appendMany('a', new Array(3), 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'payloads[0]' });
      expect(await store.streamLength('a')).toBe(0);
    });
  });

  it('accepts a Uint8Array made in another realm', async () => {
    await withStore(kind.open, async (store) => {
      const foreign = runInNewContext('new Uint8Array([7, 8, 9])') as Uint8Array;
      expect(foreign instanceof Uint8Array).toBe(false);
      expect(await store.append('realm', foreign, 0)).toBe(0);
      expect(await store.readFrom('realm', 0, 1)).toEqual([{ sequence: 0, payload: new Uint8Array([7, 8, 9]) }]);
    });
  });

  it('returns and stores -0 as 0', async () => {
    await withStore(kind.open, async (store) => {
      expect(Object.is(await store.append('z', new Uint8Array([1]), -0), 0)).toBe(true);
      await store.cas('k', -0, 1);
      await store.cas('k', 1, -0);
      expect(Object.is(await store.readValue('k'), 0)).toBe(true);
      const { firstSeqs } = await store.commit([{ op: 'append', stream: 'y', payloads: [new Uint8Array([1])], expectedSeq: -0 }]);
      expect(Object.is(firstSeqs[0], 0)).toBe(true);
    });
  });
});

describe('argument messages say what the value is', () => {
  it('names a string where a number was expected, and a foreign Uint8Array is not "a Uint8Array"', async () => {
    const [memory] = kinds;
    await withStore(memory!.open, async (store) => {
      await expect(store.append('s', new Uint8Array([1]), '4' as never)).rejects.toMatchObject({ reason: expect.stringContaining('"4" (a string)') });
      await expect(store.append('s', new Uint16Array(1) as never, 0)).rejects.toMatchObject({ reason: 'expected a Uint8Array, got a Uint16Array' });
    });
  });
});
