import { ConfigError, InvalidArgumentError, type ListStreamsOptions } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { codec, DedupCache, DedupSweeper, SWEEP_PAGE_SIZE } from '../src/index.js';
import { bytes, CountingStore, readAll, storeKinds, useStore } from './support/stores.js';

class ListingStore extends CountingStore {
  readonly listings: (ListStreamsOptions | undefined)[] = [];

  override listStreams(prefix: string, options?: ListStreamsOptions): Promise<string[]> {
    this.listings.push(options);
    return super.listStreams(prefix, options);
  }
}

describe.each(storeKinds)('DedupSweeper on $name', (kind) => {
  const open = useStore(kind);

  it('removes entries older than the TTL, keeps fresh ones and reports the counts', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await cache.claimOrGet('stale-claim', 0);
    await cache.claimOrGet('fresh-receipt', 0);
    await cache.completeReceipt('fresh-receipt', bytes('r'), 50);
    await cache.claimOrGet('old-tombstone', 0);
    await cache.releaseClaim('old-tombstone', 10);
    await cache.claimOrGet('at-the-limit', 20);

    expect(await new DedupSweeper(cache, 100).sweep(120)).toEqual({ scanned: 4, removed: 2, kept: 2 });
    expect(await cache.lookup('fresh-receipt')).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await cache.lookup('at-the-limit')).toEqual({ kind: 'inFlight' });
    expect(await cache.claimOrGet('stale-claim', 121)).toEqual({ kind: 'claimed' });
    expect(await store.streamLength(cache.streamFor('old-tombstone'))).toBe(0);
  });

  it('pages through a large namespace with after/limit', async () => {
    const inner = await open();
    const cache = new DedupCache(inner, 'bulk');
    const count = SWEEP_PAGE_SIZE + 44;
    for (let i = 0; i < count; i++) {
      await inner.append(cache.streamFor(`k${i}`), codec.encode({ kind: 'dedupClaim', key: `k${i}`, timestampMs: i % 2 === 0 ? 0 : 1000 }), 0);
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
    const nested = new DedupCache(store, 'ns:sub');
    await nested.claimOrGet('k', 0);
    await store.append('ns:not-a-hash', bytes('x'), 0);
    await store.append(cache.streamFor('corrupt'), Uint8Array.of(0x4c, 0x02), 0);
    const before = await readAll(store, cache.streamFor('corrupt'));
    expect(await new DedupSweeper(cache, 1).sweep(1_000_000)).toEqual({ scanned: 1, removed: 0, kept: 1 });
    expect(await readAll(store, cache.streamFor('corrupt'))).toEqual(before);
    expect(await nested.lookup('k')).toEqual({ kind: 'inFlight' });
    expect(await store.streamLength('ns:not-a-hash')).toBe(1);
  });

  it('rejects a bad TTL or clock reading', async () => {
    const cache = new DedupCache(await open(), 'ns');
    expect(() => new DedupSweeper(cache, -1)).toThrow(ConfigError);
    expect(() => new DedupSweeper(undefined as never, 10)).toThrow(ConfigError);
    expect(() => new DedupSweeper(cache, 1.5)).toThrow(ConfigError);
    await expect(new DedupSweeper(cache, 10).sweep(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
