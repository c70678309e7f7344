import { ConfigError, InvalidArgumentError, type CommitResult, type ListStreamsOptions, type WriteOp } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { ClaimLostError, codec, DedupCache, DedupSweeper, SWEEP_PAGE_SIZE, type ClaimToken, type DedupDecision } from '../src/index.js';
import { bytes, CountingStore, readAll, storeKinds, useStore } from './support/stores.js';

class ListingStore extends CountingStore {
  readonly listings: (ListStreamsOptions | undefined)[] = [];

  override listStreams(prefix: string, options?: ListStreamsOptions): Promise<string[]> {
    this.listings.push(options);
    return super.listStreams(prefix, options);
  }
}

/** Runs `before` once, right before the first commit: a writer that slips in between the sweeper's read and its delete. */
class RacingStore extends CountingStore {
  before: (() => Promise<unknown>) | undefined;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const race = this.before;
    this.before = undefined;
    await race?.();
    return super.commit(ops);
  }
}

const lease = (owner: string, leaseMs: number) => ({ owner, leaseMs });
const tokenOf = (decision: DedupDecision): ClaimToken => {
  if (decision.kind !== 'claimed') throw new Error(`expected claimed, got ${decision.kind}`);
  return decision.token;
};

describe.each(storeKinds)('DedupSweeper on $name', (kind) => {
  const open = useStore(kind);

  it('removes completed entries past the TTL and expired claims, keeps live claims and fresh receipts', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const expired = tokenOf(await cache.claimOrGet('expired-claim', 0, lease('a', 50)));
    await cache.claimOrGet('live-claim', 0, lease('slow', 1_000)); // older than the TTL, but its owner is still working
    const fresh = tokenOf(await cache.claimOrGet('fresh-receipt', 0, lease('a', 50)));
    await cache.completeReceipt('fresh-receipt', bytes('r'), { token: fresh, nowMs: 50 });
    const old = tokenOf(await cache.claimOrGet('old-receipt', 0, lease('a', 50)));
    await cache.completeReceipt('old-receipt', bytes('r'), { token: old, nowMs: 10 });
    const limit = tokenOf(await cache.claimOrGet('at-the-limit', 0, lease('a', 50)));
    await cache.completeReceipt('at-the-limit', bytes('r'), { token: limit, nowMs: 20 });

    expect(await new DedupSweeper(cache, 100).sweep(120)).toEqual({ scanned: 5, removed: 2, kept: 3 });
    expect(await cache.lookup('live-claim')).toEqual({ kind: 'inFlight', owner: 'slow', expiresAtMs: 1_000 });
    expect(await cache.lookup('fresh-receipt')).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await cache.lookup('at-the-limit')).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await cache.lookup('old-receipt')).toBeUndefined();
    expect(await cache.lookup('expired-claim')).toBeUndefined();
    // The swept claim's token is fenced, and only the kept entries' heads are left.
    await expect(cache.completeReceipt('expired-claim', bytes('late'), { token: expired })).rejects.toBeInstanceOf(ClaimLostError);
    expect(await store.listStreams('')).toEqual(['live-claim', 'fresh-receipt', 'at-the-limit'].map((key) => cache.streamFor(key)).sort());
  });

  it('keeps an entry written to between its read and its delete (the delete is conditional)', async () => {
    const inner = await open();
    const store = new RacingStore(inner);
    const cache = new DedupCache(inner, 'payments');
    await cache.claimOrGet('k', 0, lease('a', 10));
    // The sweeper sees an expired claim; before its delete lands, another owner takes the key over.
    store.before = () => cache.claimOrGet('k', 20, lease('b', 1_000));
    expect(await new DedupSweeper(new DedupCache(store, 'payments'), 100).sweep(30)).toEqual({ scanned: 1, removed: 0, kept: 1 });
    expect(await cache.lookup('k')).toEqual({ kind: 'inFlight', owner: 'b', expiresAtMs: 1_020 });
  });

  it('pages through a large namespace with after/limit', async () => {
    const inner = await open();
    const cache = new DedupCache(inner, 'bulk');
    const count = SWEEP_PAGE_SIZE + 44;
    for (let i = 0; i < count; i++) {
      const receipt = codec.encode({ kind: 'dedupReceipt', key: `k${i}`, receipt: bytes('r'), timestampMs: i % 2 === 0 ? 0 : 1000 });
      await inner.append(cache.streamFor(`k${i}`), receipt, 0);
    }
    const store = new ListingStore(inner);
    const report = await new DedupSweeper(new DedupCache(store, 'bulk'), 500).sweep(1000);
    expect(report).toEqual({ scanned: count, removed: count / 2, kept: count / 2 });
    expect(store.listings).toHaveLength(2);
    expect(store.listings[0]).toEqual({ limit: SWEEP_PAGE_SIZE });
    expect(store.listings[1]?.after).toMatch(/^dedup\/bulk\/[0-9a-f]{16}$/);
    expect(await inner.listStreams('dedup/bulk/')).toHaveLength(count / 2);
  });

  it('leaves other namespaces and undecodable entries untouched', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'ns');
    const nested = new DedupCache(store, 'ns/sub');
    await nested.claimOrGet('k', 0, lease('a', 1));
    await store.append('dedup/ns/not-a-hash', bytes('x'), 0);
    await store.append(cache.streamFor('corrupt'), Uint8Array.of(0x4c, 0x02), 0);
    const before = await readAll(store, cache.streamFor('corrupt'));
    expect(await new DedupSweeper(cache, 1).sweep(1_000_000)).toEqual({ scanned: 1, removed: 0, kept: 1 });
    expect(await readAll(store, cache.streamFor('corrupt'))).toEqual(before);
    expect(await nested.lookup('k')).toMatchObject({ kind: 'inFlight' });
    expect(await store.streamLength('dedup/ns/not-a-hash')).toBe(1);
  });

  it('rejects a bad TTL or clock reading', async () => {
    const cache = new DedupCache(await open(), 'ns');
    expect(() => new DedupSweeper(cache, -1)).toThrow(ConfigError);
    expect(() => new DedupSweeper(undefined as never, 10)).toThrow(ConfigError);
    expect(() => new DedupSweeper(cache, 1.5)).toThrow(ConfigError);
    await expect(new DedupSweeper(cache, 10).sweep(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
