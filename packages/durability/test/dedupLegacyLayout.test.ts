import { CommitConflictError, type DurableStore, type WriteOp } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { ClaimLostError, codec, DedupCache, DedupSweeper, keyHash, type ClaimToken } from '../src/index.js';
import { bytes, readAll, storeKinds, useStore } from './support/stores.js';

/*
 * Entries written by the previous layout, where each claim also had a fence
 * stream claim/<namespace>/<hash>/<token>: written here row by row, exactly as
 * that code did, then read and settled by this code.
 */

const fenceOf = (key: string, token: string) => `claim/payments/${keyHash(key)}/${token}`;

/** An in-flight claim as the previous layout stored it: the head [claim] and the claim's fence stream. */
async function legacyClaim(store: DurableStore, cache: DedupCache, key: string, owner: string, expiresAtMs: number): Promise<ClaimToken> {
  const token = `${keyHash(key)}-${'L'.repeat(21)}`;
  const claim = codec.encode({ kind: 'dedupClaim', key, token, owner, timestampMs: 0, expiresAtMs });
  await store.commit([
    { op: 'append', stream: cache.streamFor(key), payloads: [claim], expectedSeq: 0 },
    { op: 'append', stream: fenceOf(key, token), payloads: [claim], expectedSeq: 0 },
  ]);
  return token as ClaimToken;
}

/** What a process still running the previous code commits to complete its claim. */
function legacyCompleteOps(cache: DedupCache, key: string, token: string, receipt: Uint8Array): WriteOp[] {
  const record = codec.encode({ kind: 'dedupReceipt', key, token, receipt, timestampMs: 1 });
  return [
    { op: 'deleteStream', stream: fenceOf(key, token), expectedLength: 1 },
    { op: 'append', stream: cache.streamFor(key), payloads: [record], expectedSeq: 1 },
  ];
}

describe.each(storeKinds)('dedup entries of the previous layout (fence streams) on $name', (kind) => {
  const open = useStore(kind);

  it('honours an in-flight claim: others see it in flight, its token completes it and retires its fence', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const token = await legacyClaim(store, cache, 'k', 'old-worker', 1_000);
    expect(await cache.lookup('k')).toEqual({ kind: 'inFlight', owner: 'old-worker', expiresAtMs: 1_000 });
    expect(await cache.claimOrGet('k', 10, { owner: 'new-worker', leaseMs: 100 })).toEqual({ kind: 'inFlight', owner: 'old-worker', expiresAtMs: 1_000 });
    await cache.completeReceipt('k', bytes('r'), { token, nowMs: 20 });
    expect(await store.listStreams('claim/')).toEqual([]);
    expect(await cache.claimOrGet('k', 30, { owner: 'new-worker', leaseMs: 100 })).toEqual({ kind: 'completed', receipt: bytes('r') });
    await cache.completeReceipt('k', bytes('r'), { token, nowMs: 40 }); // the same receipt again: a no-op
  });

  it('lets a process of the previous code complete its claim while this code is deployed next to it', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const token = await legacyClaim(store, cache, 'k', 'old-worker', 1_000);
    await store.commit(legacyCompleteOps(cache, 'k', token, bytes('r')));
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('takes over an expired claim and deletes its fence, so the previous code’s late completion under the old token conflicts', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const old = await legacyClaim(store, cache, 'k', 'old-worker', 100);
    const fresh = await cache.claimOrGet('k', 100, { owner: 'new-worker', leaseMs: 100 });
    expect(fresh.kind).toBe('claimed');
    expect(await store.listStreams('claim/')).toEqual([]);
    const before = await readAll(store, cache.streamFor('k'));
    await expect(store.commit(legacyCompleteOps(cache, 'k', old, bytes('late')))).rejects.toBeInstanceOf(CommitConflictError);
    await expect(cache.completeReceipt('k', bytes('late'), { token: old, nowMs: 150 })).rejects.toBeInstanceOf(ClaimLostError);
    expect(await readAll(store, cache.streamFor('k'))).toEqual(before);
    if (fresh.kind === 'claimed') await cache.completeReceipt('k', bytes('r'), { token: fresh.token, nowMs: 160 });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('releases a claim with its fence', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const token = await legacyClaim(store, cache, 'k', 'old-worker', 1_000);
    await cache.releaseClaim('k', { token });
    expect(await store.listStreams('')).toEqual([]);
    await expect(cache.completeReceipt('k', bytes('late'), { token, nowMs: 1 })).rejects.toBeInstanceOf(ClaimLostError);
  });

  it('sweeps an expired claim with its fence, and a completed entry past the TTL; a live claim keeps its fence', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const expired = await legacyClaim(store, cache, 'expired', 'old-worker', 100);
    const live = await legacyClaim(store, cache, 'live', 'old-worker', 10_000);
    const done = await legacyClaim(store, cache, 'done', 'old-worker', 100);
    await store.commit(legacyCompleteOps(cache, 'done', done, bytes('r'))); // completed at 1
    expect(await new DedupSweeper(cache, 50).sweep(200)).toEqual({ scanned: 3, removed: 2, kept: 1 });
    expect(await store.listStreams('')).toEqual([fenceOf('live', live), cache.streamFor('live')]);
    await expect(store.commit(legacyCompleteOps(cache, 'expired', expired, bytes('late')))).rejects.toBeInstanceOf(CommitConflictError);
    await cache.completeReceipt('live', bytes('r'), { token: live, nowMs: 300 });
    expect(await store.listStreams('')).toEqual([cache.streamFor('live')]);
  });
});
