import { DecodeError, InvalidArgumentError, MemoryStore, StoreUnavailableError, type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClaimLostError, codec, ConditionFailedError, DedupCache, DedupCollisionError, DedupSweeper, keyHash, type ClaimToken, type DedupDecision } from '../src/index.js';
import { bytes, CountingStore, readAll, storeKinds, useStore } from './support/stores.js';

const lease = (owner: string, leaseMs = 100) => ({ owner, leaseMs });

/** Three keys whose hashes share their first two hex digits, so they share one removal epoch. */
function keysOfOneBucket(): [string, string, string] {
  const bucket = keyHash('k0').slice(0, 2);
  const keys: string[] = [];
  for (let i = 0; keys.length < 3; i++) if (keyHash(`k${i}`).startsWith(bucket)) keys.push(`k${i}`);
  return [keys[0]!, keys[1]!, keys[2]!];
}

function tokenOf(decision: DedupDecision): ClaimToken {
  if (decision.kind !== 'claimed') throw new Error(`expected claimed, got ${decision.kind}`);
  return decision.token;
}

/** Keeps every commit's ops, to show what a call writes. */
class RecordingStore extends ForwardingStore {
  readonly commits: (readonly WriteOp[])[] = [];
  override commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    this.commits.push(ops);
    return super.commit(ops);
  }
  /** Each commit as one line per op. */
  shapes(): string[][] {
    return this.commits.map((ops) =>
      ops.map((op) => {
        if (op.op === 'append') return `append ${op.stream} @${op.expectedSeq}`;
        if (op.op === 'deleteStream') return `deleteStream ${op.stream} #${op.expectedLength}`;
        if (op.op === 'cas') return `cas ${op.key} ${op.expected}→${op.next}`;
        return `check ${op.key} = ${op.equals}`;
      }),
    );
  }
}

/** Applies every commit, then reports it as lost at COMMIT (the outcome a client cannot see). */
class AmbiguousStore extends ForwardingStore {
  failNext = 0;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const result = await super.commit(ops);
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
    }
    return result;
  }
}

describe.each(storeKinds)('DedupCache on $name', (kind) => {
  const open = useStore(kind);

  it('keeps a key in one head stream dedup/<namespace>/<keyHash(key)>: a claim writes one row, its completion one more', async () => {
    const inner = await open();
    const store = new RecordingStore(inner);
    const cache = new DedupCache(store, 'payments');
    const head = cache.streamFor('charge-1');
    expect(head).toBe(`dedup/payments/${keyHash('charge-1')}`);
    expect(new DedupCache(store, 'pay/ments').streamFor('charge-1')).toBe(`dedup/pay%2Fments/${keyHash('charge-1')}`);
    const token = tokenOf(await cache.claimOrGet('charge-1', 5, lease('a')));
    await cache.completeReceipt('charge-1', bytes('r'), { token, nowMs: 6 });
    const epoch = `dedup/payments/removals/${keyHash('charge-1').slice(0, 2)}`;
    expect(store.shapes()).toEqual([
      [`append ${head} @0`],
      [`check ${epoch} = 0`, `append ${head} @1`], // the epoch check reads, it writes nothing
    ]);
    expect(await inner.listStreams('')).toEqual([head]);
    expect(await inner.listValues('')).toEqual([]);
    // Deleting a head moves its bucket's removal epoch, in the same commit.
    const other = tokenOf(await cache.claimOrGet('charge-1b', 7, lease('a')));
    store.commits.length = 0;
    await cache.releaseClaim('charge-1b', { token: other });
    const otherEpoch = `dedup/payments/removals/${keyHash('charge-1b').slice(0, 2)}`;
    expect(store.shapes()).toEqual([[`deleteStream ${cache.streamFor('charge-1b')} #1`, `cas ${otherEpoch} 0→1`]]);
    expect(await inner.readValue(otherEpoch)).toBe(1);
  });

  it('claims once, reports the owner and lease to others, then the completed receipt', async () => {
    const cache = new DedupCache(await open(), 'payments');
    expect(await cache.lookup('k')).toBeUndefined();
    const claimed = await cache.claimOrGet('k', 1, lease('a', 100));
    expect(claimed).toMatchObject({ kind: 'claimed', expiresAtMs: 101 });
    expect(await cache.claimOrGet('k', 2, lease('b'))).toEqual({ kind: 'inFlight', owner: 'a', expiresAtMs: 101 });
    expect(await cache.lookup('k')).toEqual({ kind: 'inFlight', owner: 'a', expiresAtMs: 101 });
    await cache.completeReceipt('k', bytes('receipt'), { token: tokenOf(claimed), nowMs: 3 });
    expect(await cache.claimOrGet('k', 4, lease('b'))).toEqual({ kind: 'completed', receipt: bytes('receipt') });
    expect(await cache.claimOrGet('k', 10_000, lease('c'))).toEqual({ kind: 'completed', receipt: bytes('receipt') });
  });

  it('gives exactly one of several concurrent first claimers the key', async () => {
    const store = await open();
    const decisions = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((owner) => new DedupCache(store, 'payments').claimOrGet('k', 1, lease(owner))));
    expect(decisions.filter((d) => d.kind === 'claimed')).toHaveLength(1);
    expect(decisions.filter((d) => d.kind === 'inFlight')).toHaveLength(5);
  });

  it('treats the same receipt under the same token again as done, and a different one as a collision', async () => {
    const cache = new DedupCache(await open(), 'payments');
    const token = tokenOf(await cache.claimOrGet('k', 1, lease('a')));
    await cache.completeReceipt('k', bytes('r1'), { token, nowMs: 2 });
    await cache.completeReceipt('k', bytes('r1'), { token, nowMs: 3 });
    const error = await cache.completeReceipt('k', bytes('r2'), { token, nowMs: 4 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DedupCollisionError);
    expect(error).toMatchObject({ code: 'DEDUP_COLLISION', key: 'k', reason: 'differentReceipt' });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r1') });
  });

  it('lets another owner take over an expired claim and fences the old token: ClaimLostError, nothing written', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const old = tokenOf(await cache.claimOrGet('k', 0, lease('a', 100)));
    expect(await cache.claimOrGet('k', 99, lease('b', 100))).toMatchObject({ kind: 'inFlight', owner: 'a' });
    const fresh = tokenOf(await cache.claimOrGet('k', 100, lease('b', 100)));
    expect(fresh).not.toBe(old);
    const before = await readAll(store, cache.streamFor('k'));
    const lost = await cache.completeReceipt('k', bytes('late'), { token: old, nowMs: 150 }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ClaimLostError);
    expect(lost).toMatchObject({ code: 'CLAIM_LOST', namespace: 'payments', key: 'k' });
    await expect(cache.releaseClaim('k', { token: old })).rejects.toBeInstanceOf(ClaimLostError);
    expect(await readAll(store, cache.streamFor('k'))).toEqual(before);
    expect(await cache.lookup('k')).toMatchObject({ kind: 'inFlight', owner: 'b' });
    await cache.completeReceipt('k', bytes('r'), { token: fresh, nowMs: 160 });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('keeps a stale token fenced after a sweep removed its expired claim and the key was claimed again', async () => {
    // The head restarts at sequence 0 after the sweep, exactly where the old claim was: only the token's fence tells them apart.
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const old = tokenOf(await cache.claimOrGet('k', 0, lease('a', 10)));
    expect(await new DedupSweeper(cache, 1_000).sweep(10)).toMatchObject({ removed: 1 });
    const fresh = tokenOf(await cache.claimOrGet('k', 11, lease('b', 100)));
    await expect(cache.completeReceipt('k', bytes('late'), { token: old, nowMs: 12 })).rejects.toBeInstanceOf(ClaimLostError);
    await expect(cache.releaseClaim('k', { token: old })).rejects.toBeInstanceOf(ClaimLostError);
    await cache.completeReceipt('k', bytes('r'), { token: fresh, nowMs: 13 });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('keeps a completed token fenced after its entry was swept past the TTL and the key was claimed again', async () => {
    // The new claim sits at sequence 0 again, where the completed one was: the sweep's epoch move tells them apart.
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const done = tokenOf(await cache.claimOrGet('k', 0, lease('a', 10)));
    await cache.completeReceipt('k', bytes('r'), { token: done, nowMs: 1 });
    expect(await new DedupSweeper(cache, 5).sweep(10)).toMatchObject({ removed: 1 });
    const fresh = tokenOf(await cache.claimOrGet('k', 11, lease('b', 100)));
    const before = await readAll(store, cache.streamFor('k'));
    for (const other of [cache, new DedupCache(store, 'payments')]) {
      await expect(other.completeReceipt('k', bytes('r'), { token: done, nowMs: 12 })).rejects.toBeInstanceOf(ClaimLostError);
      await expect(other.releaseClaim('k', { token: done })).rejects.toBeInstanceOf(ClaimLostError);
    }
    expect(await readAll(store, cache.streamFor('k'))).toEqual(before);
    await cache.completeReceipt('k', bytes('r2'), { token: fresh, nowMs: 13 });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r2') });
  });

  it('settles a token from another DedupCache (another process) by reading its claim back, and fences a stale one the same way', async () => {
    const store = await open();
    const [a, b, c] = [new DedupCache(store, 'payments'), new DedupCache(store, 'payments'), new DedupCache(store, 'payments')];
    const first = tokenOf(await a.claimOrGet('k1', 0, lease('a', 10)));
    await b.completeReceipt('k1', bytes('r'), { token: first, nowMs: 1 });
    await c.completeReceipt('k1', bytes('r'), { token: first, nowMs: 2 }); // the same receipt again: a no-op
    expect(await a.lookup('k1')).toEqual({ kind: 'completed', receipt: bytes('r') });
    const released = tokenOf(await a.claimOrGet('k2', 0, lease('a', 10)));
    await b.releaseClaim('k2', { token: released });
    expect(await a.lookup('k2')).toBeUndefined();
    // A sweep in one process, a takeover in another: the stale token is refused by a third that never saw it.
    const stale = tokenOf(await a.claimOrGet('k3', 0, lease('a', 10)));
    expect(await new DedupSweeper(b, 1_000).sweep(10)).toMatchObject({ removed: 1 });
    const fresh = tokenOf(await b.claimOrGet('k3', 11, lease('b', 100)));
    await expect(a.completeReceipt('k3', bytes('late'), { token: stale, nowMs: 12 })).rejects.toBeInstanceOf(ClaimLostError);
    await expect(c.completeReceipt('k3', bytes('late'), { token: stale, nowMs: 12 })).rejects.toBeInstanceOf(ClaimLostError);
    await expect(c.releaseClaim('k3', { token: stale })).rejects.toBeInstanceOf(ClaimLostError);
    await c.completeReceipt('k3', bytes('r3'), { token: fresh, nowMs: 13 });
    expect(await a.lookup('k3')).toEqual({ kind: 'completed', receipt: bytes('r3') });
  });

  it('completes and releases a live claim after another key of its epoch bucket was removed (the epoch moved, the claim did not)', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const [k, neighbour, third] = keysOfOneBucket();
    const held = tokenOf(await cache.claimOrGet(k, 0, lease('a', 1_000)));
    const alsoHeld = tokenOf(await cache.claimOrGet(third, 0, lease('a', 1_000)));
    const gone = tokenOf(await new DedupCache(store, 'payments').claimOrGet(neighbour, 0, lease('b', 1_000)));
    await new DedupCache(store, 'payments').releaseClaim(neighbour, { token: gone });
    expect(await store.readValue(`dedup/payments/removals/${keyHash(k).slice(0, 2)}`)).toBe(1);
    await cache.completeReceipt(k, bytes('r'), { token: held, nowMs: 1 });
    await cache.releaseClaim(third, { token: alsoHeld });
    expect(await cache.lookup(k)).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await cache.lookup(third)).toBeUndefined();
    expect(await store.readValue(`dedup/payments/removals/${keyHash(k).slice(0, 2)}`)).toBe(2);
  });

  it('lets the same owner (a restarted process) reclaim its own live claim at once', async () => {
    const cache = new DedupCache(await open(), 'payments');
    const before = tokenOf(await cache.claimOrGet('k', 0, lease('worker-1', 60_000)));
    const after = tokenOf(await cache.claimOrGet('k', 1, lease('worker-1', 60_000)));
    expect(after).not.toBe(before);
    await expect(cache.completeReceipt('k', bytes('r'), { token: before })).rejects.toBeInstanceOf(ClaimLostError);
    await cache.completeReceipt('k', bytes('r'), { token: after });
  });

  it('releases a claim so the key can be claimed again, never touching a receipt', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const first = tokenOf(await cache.claimOrGet('k', 1, lease('a')));
    await cache.releaseClaim('k', { token: first });
    expect(await cache.lookup('k')).toBeUndefined();
    expect(await store.listStreams('')).toEqual([]); // a released key leaves nothing behind
    const second = tokenOf(await cache.claimOrGet('k', 2, lease('b')));
    await expect(cache.completeReceipt('k', bytes('r'), { token: first })).rejects.toBeInstanceOf(ClaimLostError);
    await cache.completeReceipt('k', bytes('r'), { token: second });
    await cache.releaseClaim('k', { token: second }); // settled under this token: a late release is a no-op
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('costs the same reads and writes per claim after hundreds of failed attempts and takeovers', async () => {
    const inner = await open();
    const store = new CountingStore(inner);
    const cache = new DedupCache(store, 'payments');
    for (let attempt = 0; attempt < 150; attempt++) {
      const token = tokenOf(await cache.claimOrGet('k', attempt * 10, lease(`owner-${attempt % 3}`, 5)));
      if (attempt % 2 === 0) await cache.releaseClaim('k', { token }); // a failed handler; odd attempts just expire
    }
    expect(await inner.streamLength(cache.streamFor('k'))).toBe(1);
    store.entriesRead.clear();
    await cache.claimOrGet('k', 10_000, lease('last', 5));
    expect(store.entriesRead.get(cache.streamFor('k'))).toBe(1); // the one expired claim, not 150 attempts
    expect(await inner.listStreams('')).toEqual([cache.streamFor('k')]); // nothing else is left of the attempts
  });

  it('resolves a claim or receipt whose commit outcome was unknown by reading it back', async () => {
    const inner = await open();
    const store = new AmbiguousStore(inner);
    const cache = new DedupCache(store, 'payments');
    store.failNext = 1;
    const token = tokenOf(await cache.claimOrGet('k', 1, lease('a')));
    store.failNext = 1;
    await cache.completeReceipt('k', bytes('r'), { token, nowMs: 2 });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
    expect(await inner.streamLength(cache.streamFor('k'))).toBe(2);
  });

  it('detects a different key hashing into the same stream', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    // A real FNV-1a 64 collision is impractical to find; plant the other key's record instead.
    const impostor = { kind: 'dedupClaim', key: 'impostor', token: `${keyHash('k')}-${'x'.repeat(21)}`, owner: 'o', timestampMs: 1, expiresAtMs: 2 } as const;
    await store.append(cache.streamFor('k'), codec.encode(impostor), 0);
    await expect(cache.lookup('k')).rejects.toMatchObject({ code: 'DEDUP_COLLISION', reason: 'hashCollision' });
    await expect(cache.claimOrGet('k', 5, lease('a'))).rejects.toMatchObject({ code: 'DEDUP_COLLISION', reason: 'hashCollision' });
    await expect(cache.releaseClaim('k', { token: impostor.token as ClaimToken })).rejects.toMatchObject({ reason: 'hashCollision' });
    expect(await store.streamLength(cache.streamFor('k'))).toBe(1);
  });

  it('fails with DecodeError on malformed, truncated or wrong-version entries and leaves the stream as it was', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const claim = codec.encode({ kind: 'dedupClaim', key: 'k', token: 't', owner: 'o', timestampMs: 1, expiresAtMs: 2 });
    const wrongVersion = claim.slice();
    wrongVersion[1] = 0;
    for (const bad of [Uint8Array.of(0xff), claim.subarray(0, 5), wrongVersion, codec.encode({ kind: 'processingStarted', messageId: 'k' })]) {
      await store.deleteStream(cache.streamFor('k'));
      await store.append(cache.streamFor('k'), bad, 0);
      const before = await readAll(store, cache.streamFor('k'));
      await expect(cache.claimOrGet('k', 2, lease('a'))).rejects.toBeInstanceOf(DecodeError);
      await expect(cache.lookup('k')).rejects.toBeInstanceOf(DecodeError);
      expect(await readAll(store, cache.streamFor('k'))).toEqual(before);
    }
  });

  it('commits claim conditions with the claim: a failed one is ConditionFailedError and claims nothing, not even a takeover', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    await store.cas('epoch', 0, 2);
    const stale = [{ op: 'check', key: 'epoch', equals: 1 }] as const;
    await expect(cache.claimOrGet('k', 1, { ...lease('a'), conditions: stale })).rejects.toMatchObject({ code: 'CONDITION_FAILED', index: 0 });
    expect(await cache.lookup('k')).toBeUndefined();
    const held = await cache.claimOrGet('k', 1, { ...lease('b', 10), conditions: [{ op: 'check', key: 'epoch', equals: 2 }] });
    expect(held.kind).toBe('claimed');
    // b's lease expired: an owner with a stale fence still cannot take the key over (b's token stays valid).
    await expect(cache.claimOrGet('k', 50, { ...lease('a'), conditions: stale })).rejects.toBeInstanceOf(ConditionFailedError);
    await cache.completeReceipt('k', bytes('r'), { token: tokenOf(held) });
    expect(await cache.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('r') });
  });

  it('rejects bad input with InvalidArgumentError before writing anything', async () => {
    const store = await open();
    const cache = new DedupCache(store, 'payments');
    const bad = (call: () => Promise<unknown>) => expect(call()).rejects.toBeInstanceOf(InvalidArgumentError);
    await bad(() => cache.claimOrGet('', 1, lease('a')));
    await bad(() => cache.claimOrGet('k', -1, lease('a')));
    await bad(() => cache.claimOrGet('k', 2 ** 53, lease('a')));
    await bad(() => cache.claimOrGet('k', 1, lease('')));
    await bad(() => cache.claimOrGet('k', 1, { owner: 7 as never, leaseMs: 10 }));
    for (const leaseMs of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10' as never]) await bad(() => cache.claimOrGet('k', 1, lease('a', leaseMs)));
    await bad(() => cache.claimOrGet('k', Number.MAX_SAFE_INTEGER, lease('a', 10))); // the expiry would not be a safe integer
    await bad(() => cache.claimOrGet('k', 1, undefined as never));
    await bad(() => cache.claimOrGet('k', 1, { ...lease('a'), conditions: 'check' as never }));
    await bad(() => cache.claimOrGet('k', 1, { ...lease('a'), conditions: [{ op: 'drop' }] as never }));
    expect(() => new DedupCache(store, '')).toThrow(InvalidArgumentError);
    await bad(() => cache.lookup(''));
    await bad(() => cache.lookup(5 as never));
    expect(await store.listStreams('')).toEqual([]);

    const token = tokenOf(await cache.claimOrGet('k', 1, lease('a')));
    const other = tokenOf(await cache.claimOrGet('other', 1, lease('a')));
    const stored = await readAll(store, cache.streamFor('k'));
    await bad(() => cache.completeReceipt('k', bytes('r'), { token: other })); // a token from another key
    await bad(() => cache.releaseClaim('k', { token: other }));
    await bad(() => cache.completeReceipt('k', bytes('r'), { token: 'forged' as ClaimToken }));
    await bad(() => cache.completeReceipt('k', bytes('r'), undefined as never));
    await bad(() => cache.completeReceipt('k', 'r' as never, { token }));
    await bad(() => cache.completeReceipt('k', bytes('r'), { token, nowMs: -1 }));
    await bad(() => cache.releaseClaim('', { token }));
    expect(await readAll(store, cache.streamFor('k'))).toEqual(stored);
    expect(await cache.lookup('k')).toMatchObject({ kind: 'inFlight', owner: 'a' });
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
    listStreams: wrap((prefix: string, options?: { after?: string; limit?: number }) => inner.listStreams(prefix, options)),
    listValues: (prefix, options) => inner.listValues(prefix, options),
    deleteStream: (stream) => inner.deleteStream(stream),
    readValue: wrap((key: string) => inner.readValue(key)),
    cas: (key, expected, next) => inner.cas(key, expected, next),
    commit: wrap((ops: readonly WriteOp[]) => inner.commit(ops)),
    watch: (prefix, options) => inner.watch(prefix, options),
    close: () => inner.close(),
  };
}

type Step = { kind: 'claim' | 'complete' | 'release'; owner: number } | { kind: 'tick'; ms: number } | { kind: 'sweep' };

const LEASE_MS = 10;
const TTL_MS = 25;
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom('claim' as const, 'complete' as const, 'release' as const), owner: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ kind: fc.constant('sweep' as const) }),
);

/** The cache of owner `id`: `shared` for every owner, or one of its own (another process: it sees none of the others' epochs). */
function cachesFor(store: DurableStore, shared: DedupCache, isShared: boolean): (id: number) => DedupCache {
  const own = new Map<number, DedupCache>();
  return (id) => {
    if (isShared) return shared;
    if (!own.has(id)) own.set(id, new DedupCache(store, 'ns'));
    return own.get(id)!;
  };
}

describe('DedupCache against a model (MemoryStore)', () => {
  it('property: sequential claim/complete/release/expire/sweep by several owners behave exactly like the model', async () => {
    await fc.assert(
      // `shared`: one DedupCache for all owners (one process), or one per owner and one for the sweeper (processes).
      fc.asyncProperty(fc.array(stepArb, { maxLength: 40 }), fc.boolean(), async (steps, shared) => {
        const store = new MemoryStore();
        const cache = new DedupCache(store, 'ns');
        const cacheOf = cachesFor(store, cache, shared);
        const sweeper = new DedupSweeper(cacheOf(3), TTL_MS);
        // The model: who holds the key (and until when), and the receipt with the token it was stored under.
        let holder: { owner: number; token: string; expiresAtMs: number } | undefined;
        let receipt: { byte: number; token: string; atMs: number } | undefined;
        const tokens = new Map<number, ClaimToken>();
        let now = 0;
        for (const step of steps) {
          if (step.kind === 'tick') {
            now += step.ms;
          } else if (step.kind === 'sweep') {
            await sweeper.sweep(now);
            if (receipt !== undefined && now - receipt.atMs > TTL_MS) receipt = undefined;
            else if (receipt === undefined && holder !== undefined && now >= holder.expiresAtMs) holder = undefined;
          } else if (step.kind === 'claim') {
            const decision = await cacheOf(step.owner).claimOrGet('k', now, { owner: `o${step.owner}`, leaseMs: LEASE_MS });
            if (receipt !== undefined) expect(decision.kind).toBe('completed');
            else if (holder !== undefined && holder.owner !== step.owner && now < holder.expiresAtMs) {
              expect(decision).toEqual({ kind: 'inFlight', owner: `o${holder.owner}`, expiresAtMs: holder.expiresAtMs });
            } else {
              const token = tokenOf(decision);
              holder = { owner: step.owner, token, expiresAtMs: now + LEASE_MS };
              tokens.set(step.owner, token);
            }
          } else {
            const token = tokens.get(step.owner);
            if (token === undefined) continue;
            const call =
              step.kind === 'complete'
                ? cacheOf(step.owner).completeReceipt('k', Uint8Array.of(step.owner), { token, nowMs: now })
                : cacheOf(step.owner).releaseClaim('k', { token });
            const outcome = await call.then(() => 'ok', (error: unknown) => error);
            if (receipt?.token === token) {
              // Settled under this token: the same receipt or a release is a no-op, another receipt a collision.
              expect(outcome === 'ok' ? 'ok' : (outcome as DedupCollisionError).reason).toBe(step.kind === 'release' || receipt.byte === step.owner ? 'ok' : 'differentReceipt');
            } else if (receipt === undefined && holder?.token === token) {
              expect(outcome).toBe('ok');
              if (step.kind === 'complete') receipt = { byte: step.owner, token, atMs: now };
              holder = undefined;
            } else {
              expect(outcome).toBeInstanceOf(ClaimLostError); // never a receipt under another owner's claim
            }
          }
          const entry = await cache.lookup('k');
          if (receipt !== undefined) expect(entry).toEqual({ kind: 'completed', receipt: Uint8Array.of(receipt.byte) });
          else if (holder !== undefined) expect(entry).toEqual({ kind: 'inFlight', owner: `o${holder.owner}`, expiresAtMs: holder.expiresAtMs });
          else expect(entry).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: under random interleavings of owners (leases expiring, sweeps running), one receipt is ever stored, by a token that held the claim', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(stepArb, { maxLength: 8 }), { minLength: 2, maxLength: 4 }), fc.boolean(), async (s, scripts, shared) => {
        const store = scheduledStore(new MemoryStore(), s);
        const cache = new DedupCache(store, 'ns');
        const cacheOf = cachesFor(store, cache, shared);
        let now = 0;
        const completedBy: string[] = [];
        const live = new Map<string, number>(); // token → lease expiry, while its owner believes it holds the key
        const violations: string[] = [];
        const caller = async (script: readonly Step[], id: number) => {
          let token: ClaimToken | undefined;
          for (const step of script) {
            if (step.kind === 'tick') now += step.ms;
            else if (step.kind === 'sweep') await new DedupSweeper(cacheOf(id), 1_000_000).sweep(now);
            else if (step.kind === 'claim' && token === undefined) {
              const decision = await cacheOf(id).claimOrGet('k', now, { owner: `o${id}`, leaseMs: LEASE_MS });
              if (decision.kind !== 'claimed') continue;
              token = decision.token;
              // An owner may only believe it holds the key while its lease runs (by the latest clock, `now`); a
              // grant delivered after its lease ended (then taken over) is fenced, not believed.
              if (decision.expiresAtMs <= now) continue;
              for (const [other, expiresAtMs] of live) if (expiresAtMs > now) violations.push(`o${id} claimed at ${now} while ${other} held until ${expiresAtMs}`);
              live.set(token, decision.expiresAtMs);
            } else if (step.kind === 'complete' && token !== undefined) {
              const held = token;
              token = undefined;
              live.delete(held);
              try {
                await cacheOf(id).completeReceipt('k', Uint8Array.of(id), { token: held, nowMs: now });
                completedBy.push(held);
              } catch (error) {
                if (!(error instanceof ClaimLostError)) throw error;
              }
            } else if (step.kind === 'release' && token !== undefined) {
              const held = token;
              token = undefined;
              live.delete(held);
              await cacheOf(id).releaseClaim('k', { token: held }).catch((error: unknown) => {
                if (!(error instanceof ClaimLostError)) throw error;
              });
            }
          }
        };
        await s.waitFor(Promise.all(scripts.map(caller)));
        expect(violations).toEqual([]);
        expect(completedBy.length).toBeLessThanOrEqual(1);
        const entry = await s.waitFor(cache.lookup('k'));
        if (completedBy.length === 1) expect(entry?.kind).toBe('completed');
      }),
      { numRuns: 200 },
    );
  });
});
