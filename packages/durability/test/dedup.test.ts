import { DecodeError, InvalidArgumentError, MemoryStore, SequenceConflictError, type DurableStore, type WriteOp } from '@liminal/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codec, DedupCache, DedupCollisionError, keyHash } from '../src/index.js';
import { bytes, CountingStore, readAll, storeKinds, useStore } from './support/stores.js';

/** Runs `before` once, right before the first append to a stream: a writer that raced us. */
class RacingStore extends CountingStore {
  constructor(
    inner: DurableStore,
    private before: (() => Promise<unknown>) | undefined,
  ) {
    super(inner);
  }

  override async append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    const race = this.before;
    this.before = undefined;
    await race?.();
    return super.append(stream, payload, expectedSeq);
  }
}

describe.each(storeKinds)('DedupCache on $name', (kind) => {
  const open = useStore(kind);

  it('stores entries in the stream dedup/<namespace>/<keyHash(key)>', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    expect(cache.streamFor('charge-1')).toBe(`dedup/payments/${keyHash('charge-1')}`);
    expect(new DedupCache(store, 'pay/ments').streamFor('charge-1')).toBe(`dedup/pay%2Fments/${keyHash('charge-1')}`);
    await cache.claimOrGet('charge-1', 5);
    expect(await store.listStreams('dedup/payments/')).toEqual([cache.streamFor('charge-1')]);
  });

  it('claims once, then reports inFlight, then the completed receipt', async () => {
    const cache = new DedupCache(await open(), 'payments');
    expect(await cache.lookup('k')).toBeUndefined();
    expect(await cache.claimOrGet('k', 1)).toEqual({ kind: 'claimed' });
    expect(await cache.claimOrGet('k', 2)).toEqual({ kind: 'inFlight' });
    expect(await cache.lookup('k')).toEqual({ kind: 'inFlight' });
    await cache.completeReceipt('k', bytes('receipt'), 3);
    expect(await cache.claimOrGet('k', 4)).toEqual({ kind: 'completed', receipt: bytes('receipt') });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('receipt') });
  });

  it('gives exactly one of several concurrent first claims', async () => {
    const store = await open();
    const decisions = await Promise.all(Array.from({ length: 6 }, () => new DedupCache(store, 'payments').claimOrGet('k', 1)));
    expect(decisions.filter((d) => d.kind === 'claimed')).toHaveLength(1);
    expect(decisions.filter((d) => d.kind === 'inFlight')).toHaveLength(5);
  });

  it('accepts the same receipt twice and refuses a different one', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await cache.claimOrGet('k', 1);
    await cache.completeReceipt('k', bytes('r1'), 2);
    await cache.completeReceipt('k', bytes('r1'), 3);
    const error = await cache.completeReceipt('k', bytes('r2'), 4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DedupCollisionError);
    expect(error).toMatchObject({ code: 'DEDUP_COLLISION', key: 'k', reason: 'differentReceipt' });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r1') });
    expect(await store.streamLength(cache.streamFor('k'))).toBe(2);
  });

  it('completes its own fresh claim without reading the key stream again', async () => {
    const store = new CountingStore(await open());
    const cache = new DedupCache(store, 'payments');
    expect(await cache.claimOrGet('k', 1)).toEqual({ kind: 'claimed' });
    const readsAfterClaim = store.reads.length;
    await cache.completeReceipt('k', bytes('r'), 2);
    expect(store.reads.length).toBe(readsAfterClaim);
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
    await cache.completeReceipt('k', bytes('r'), 3); // the same receipt again: read, found, no-op
    expect(await store.streamLength(cache.streamFor('k'))).toBe(2);
  });

  it('decides from the stream when it changed after our claim (released, completed, or swept elsewhere)', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const other = new DedupCache(store, 'payments');
    for (const key of ['released', 'same', 'different', 'swept']) await cache.claimOrGet(key, 1);
    await other.releaseClaim('released', 2);
    await other.completeReceipt('same', bytes('r'), 2);
    await other.completeReceipt('different', bytes('theirs'), 2);
    await store.deleteStream(cache.streamFor('swept'));
    await expect(cache.completeReceipt('released', bytes('r'))).rejects.toMatchObject({ reason: 'missingClaim' });
    await cache.completeReceipt('same', bytes('r'));
    await expect(cache.completeReceipt('different', bytes('mine'))).rejects.toMatchObject({ reason: 'differentReceipt' });
    await expect(cache.completeReceipt('swept', bytes('r'))).rejects.toMatchObject({ reason: 'missingClaim' });
    expect(await cache.lookup('released')).toBeUndefined();
    expect(await cache.lookup('different')).toEqual({ kind: 'completed', receipt: bytes('theirs') });
    expect(await store.streamLength(cache.streamFor('swept'))).toBe(0);
  });

  it('refuses a receipt without a claim, including after a release', async () => {
    const cache = new DedupCache(await open(), 'payments');
    await expect(cache.completeReceipt('k', bytes('r'))).rejects.toMatchObject({ reason: 'missingClaim' });
    await cache.claimOrGet('k', 1);
    await cache.releaseClaim('k', 2);
    await expect(cache.completeReceipt('k', bytes('r'))).rejects.toBeInstanceOf(DedupCollisionError);
  });

  it('release writes a tombstone so the key can be claimed again', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await cache.claimOrGet('k', 1);
    await cache.releaseClaim('k', 2);
    expect(await cache.lookup('k')).toBeUndefined();
    expect(codec.decode((await readAll(store, cache.streamFor('k')))[1]!.payload)).toEqual({ kind: 'dedupTombstone', key: 'k', timestampMs: 2 });
    expect(await cache.claimOrGet('k', 3)).toEqual({ kind: 'claimed' });
  });

  it('release never removes a receipt and is a no-op for an absent key', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await cache.releaseClaim('absent');
    expect(await store.listStreams('payments:')).toEqual([]);
    await cache.claimOrGet('k', 1);
    await cache.completeReceipt('k', bytes('r'), 2);
    await cache.releaseClaim('k', 3);
    expect(await cache.claimOrGet('k', 4)).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await store.streamLength(cache.streamFor('k'))).toBe(2);
  });

  it('detects a different key hashing into the same stream', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    // A real FNV-1a 64 collision is impractical to find; plant the other key's record instead.
    await store.append(cache.streamFor('k'), codec.encode({ kind: 'dedupClaim', key: 'impostor', timestampMs: 1 }), 0);
    for (const call of [() => cache.lookup('k'), () => cache.claimOrGet('k', 2), () => cache.completeReceipt('k', bytes('r')), () => cache.releaseClaim('k')]) {
      await expect(call()).rejects.toMatchObject({ code: 'DEDUP_COLLISION', reason: 'hashCollision' });
    }
    expect(await store.streamLength(cache.streamFor('k'))).toBe(1);
  });

  it('fails with DecodeError on malformed, truncated or wrong-version entries and leaves the stream as it was', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const claim = codec.encode({ kind: 'dedupClaim', key: 'k', timestampMs: 1 });
    const wrongVersion = claim.slice();
    wrongVersion[1] = 0;
    for (const bad of [Uint8Array.of(0xff), claim.subarray(0, 5), wrongVersion, codec.encode({ kind: 'processingStarted', messageId: 'k' })]) {
      await store.deleteStream(cache.streamFor('k'));
      await store.append(cache.streamFor('k'), bad, 0);
      const before = await readAll(store, cache.streamFor('k'));
      await expect(cache.claimOrGet('k', 2)).rejects.toBeInstanceOf(DecodeError);
      await expect(cache.releaseClaim('k')).rejects.toBeInstanceOf(DecodeError);
      expect(await readAll(store, cache.streamFor('k'))).toEqual(before);
    }
  });

  it('rejects bad arguments before touching the store', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await expect(cache.claimOrGet('', 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.claimOrGet('k', -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.completeReceipt('k', 'r' as unknown as Uint8Array)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new DedupCache(store, '')).toThrow(InvalidArgumentError);
    await expect(cache.lookup('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.lookup(5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.releaseClaim('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.releaseClaim('k', Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.completeReceipt('k', bytes('r'), -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.claimOrGet('k', 2 ** 53)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.listStreams('payments')).toEqual([]);
  });

  describe('a write that races ours', () => {
    it('claim: reports the winner’s claim as inFlight', async () => {
      const inner = await open();
      const other = new DedupCache(inner, 'p');
      const cache = new DedupCache(new RacingStore(inner, () => other.claimOrGet('k', 1)), 'p');
      expect(await cache.claimOrGet('k', 2)).toEqual({ kind: 'inFlight' });
    });

    it('claim: surfaces the conflict when the racer released, since the key is free but not ours', async () => {
      const inner = await open();
      const other = new DedupCache(inner, 'p');
      await other.claimOrGet('k', 1);
      await other.releaseClaim('k', 2);
      const cache = new DedupCache(
        new RacingStore(inner, async () => {
          await other.claimOrGet('k', 3);
          await other.releaseClaim('k', 4);
        }),
        'p',
      );
      await expect(cache.claimOrGet('k', 5)).rejects.toBeInstanceOf(SequenceConflictError);
    });

    it('complete: the same receipt written by the racer counts as success; a different one is the conflict', async () => {
      const inner = await open();
      const other = new DedupCache(inner, 'p');
      await other.claimOrGet('same', 1);
      await other.claimOrGet('diff', 1);
      await new DedupCache(new RacingStore(inner, () => other.completeReceipt('same', bytes('r'))), 'p').completeReceipt('same', bytes('r'));
      await expect(
        new DedupCache(new RacingStore(inner, () => other.completeReceipt('diff', bytes('theirs'))), 'p').completeReceipt('diff', bytes('mine')),
      ).rejects.toBeInstanceOf(SequenceConflictError);
      expect(await other.lookup('diff')).toEqual({ kind: 'completed', receipt: bytes('theirs') });
    });

    it('release: succeeds when the racer completed or released, keeping the receipt', async () => {
      const inner = await open();
      const other = new DedupCache(inner, 'p');
      await other.claimOrGet('done', 1);
      await other.claimOrGet('gone', 1);
      await new DedupCache(new RacingStore(inner, () => other.completeReceipt('done', bytes('r'))), 'p').releaseClaim('done');
      await new DedupCache(new RacingStore(inner, () => other.releaseClaim('gone')), 'p').releaseClaim('gone');
      expect(await other.lookup('done')).toEqual({ kind: 'completed', receipt: bytes('r') });
      expect(await other.lookup('gone')).toBeUndefined();
    });

    it('release: surfaces the conflict rather than clobber a fresh re-claim', async () => {
      const inner = await open();
      const other = new DedupCache(inner, 'p');
      await other.claimOrGet('k', 1);
      const racer = async () => {
        await other.releaseClaim('k', 2);
        await other.claimOrGet('k', 3);
      };
      await expect(new DedupCache(new RacingStore(inner, racer), 'p').releaseClaim('k')).rejects.toBeInstanceOf(SequenceConflictError);
      expect(await other.lookup('k')).toEqual({ kind: 'inFlight' });
    });
  });
});

/** Delivers every store result at a moment fast-check's scheduler picks. */
function scheduledStore(inner: DurableStore, s: fc.Scheduler): DurableStore {
  const wrap = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => s.scheduleFunction(fn);
  return {
    append: wrap((stream: string, payload: Uint8Array, seq: number) => inner.append(stream, payload, seq)),
    appendMany: wrap((stream: string, payloads: readonly Uint8Array[], seq: number) => inner.appendMany(stream, payloads, seq)),
    readFrom: wrap((stream: string, from: number, limit: number) => inner.readFrom(stream, from, limit)),
    streamLength: wrap((stream: string) => inner.streamLength(stream)),
    listStreams: (prefix, options) => inner.listStreams(prefix, options),
    listValues: (prefix, options) => inner.listValues(prefix, options),
    deleteStream: (stream) => inner.deleteStream(stream),
    readValue: (key) => inner.readValue(key),
    cas: (key, expected, next) => inner.cas(key, expected, next),
    commit: wrap((ops: readonly WriteOp[]) => inner.commit(ops)),
    watch: (prefix, options) => inner.watch(prefix, options),
    close: () => inner.close(),
  };
}

describe('DedupCache under random interleavings (MemoryStore)', () => {
  it('property: never two claimed for one key without a release between, and never a claim after a receipt, even after a late release', async () => {
    const op = fc.constantFrom('claim', 'complete', 'release');
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(op, { maxLength: 8 }), { minLength: 2, maxLength: 4 }), async (s, scripts) => {
        const cache = new DedupCache(scheduledStore(new MemoryStore(), s), 'ns');
        let holder: number | undefined;
        let completed = false;
        const violations: string[] = [];
        const caller = async (script: readonly string[], id: number) => {
          let holding = false;
          for (const step of script) {
            if (step === 'claim' && !holding) {
              try {
                const decision = await cache.claimOrGet('k', 0);
                if (decision.kind !== 'claimed') continue;
                if (holder !== undefined) violations.push(`caller ${id} claimed while ${holder} held the claim`);
                if (completed) violations.push(`caller ${id} claimed a completed key`);
                holder = id;
                holding = true;
              } catch (error) {
                // Losing a race against a release is reported, never hidden as a claim.
                if (!(error instanceof SequenceConflictError)) throw error;
              }
            } else if (step === 'complete' && holding) {
              await cache.completeReceipt('k', Uint8Array.of(id), 0);
              completed = true;
              holding = false;
              holder = undefined;
            } else if (step === 'release' && holding) {
              holding = false; // from here on the claim is given up
              holder = undefined;
              await cache.releaseClaim('k', 0);
            } else if (step === 'release' && completed) {
              // A late release (a retry after a timeout, say) must never undo a receipt.
              await cache.releaseClaim('k', 0);
            }
          }
        };
        await s.waitFor(Promise.all(scripts.map(caller)));
        expect(violations).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
