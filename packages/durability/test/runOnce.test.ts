import { InvalidArgumentError, StoreUnavailableError, type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { ConditionFailedError, DedupCache, type EffectTx } from '../src/index.js';
import { bytes, CountingStore, readAll, storeKinds, text, useStore } from './support/stores.js';

/**
 * `loseNext`: lands the next commit that writes the ledger, then reports a lost connection; `refuseNext`: reports
 * the same unknown outcome without landing it.
 */
class LosingStore extends CountingStore {
  loseNext = false;
  refuseNext = false;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    if (this.refuseNext && ops.some((op) => op.op === 'append' && op.stream === 'ledger')) {
      this.refuseNext = false;
      throw new StoreUnavailableError('connection lost before COMMIT', { ambiguous: true });
    }
    const result = await super.commit(ops);
    if (this.loseNext && ops.some((op) => op.op === 'append' && op.stream === 'ledger')) {
      this.loseNext = false;
      throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
    }
    return result;
  }
}

const claim = { owner: 'partition-0', leaseMs: 30_000 };
const fence = [{ op: 'check', key: 'lease-epoch', equals: 1 }] as const;
const charge = (tx: EffectTx) => {
  tx.append('ledger', bytes('charged'));
  return bytes('receipt');
};
const ledger = async (store: DurableStore) => (await readAll(store, 'ledger')).map((entry) => text(entry.payload));

describe.each(storeKinds)('DedupCache.runOnce on $name', (kind) => {
  const open = useStore(kind);
  const setup = async () => {
    const store = new LosingStore(await open());
    await store.cas('lease-epoch', 0, 1);
    store.commits = 0;
    return { store, effects: new DedupCache(store, 'effects') };
  };

  it('claims, then commits the work: two commits', async () => {
    const { store, effects } = await setup();
    const outcome = await effects.runOnce('k', 0, claim, charge, { conditions: fence });
    expect(outcome).toEqual({ kind: 'processed', receipt: bytes('receipt') });
    expect(store.commits).toBe(2);
    expect(await ledger(store)).toEqual(['charged']);
  });

  it('exclusive: the work, its receipt and the conditions are ONE commit, and a second run is a duplicate that writes nothing', async () => {
    const { store, effects } = await setup();
    const outcome = await effects.runOnce('k', 0, claim, charge, { conditions: fence, exclusive: true });
    expect(outcome).toEqual({ kind: 'processed', receipt: bytes('receipt') });
    expect(store.commits).toBe(1);
    expect(store.commitOps[0]).toContainEqual(fence[0]);
    expect(await effects.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('receipt') });

    const again = await effects.runOnce('k', 1, claim, (tx) => (tx.append('ledger', bytes('charged again')), bytes('other')), { conditions: fence, exclusive: true });
    expect(again).toEqual({ kind: 'duplicate', receipt: bytes('receipt') });
    expect(await ledger(store)).toEqual(['charged']);
    // A claimed run of the same key sees the receipt too.
    expect(await effects.runOnce('k', 2, claim, charge)).toEqual({ kind: 'duplicate', receipt: bytes('receipt') });
  });

  it('exclusive: a key an earlier claimed attempt left claimed is taken over by the same owner and done once', async () => {
    const { store, effects } = await setup();
    expect(await effects.claimOrGet('k', 0, claim)).toMatchObject({ kind: 'claimed' }); // then that process died
    const outcome = await effects.runOnce('k', 1, claim, charge, { conditions: fence, exclusive: true });
    expect(outcome).toEqual({ kind: 'processed', receipt: bytes('receipt') });
    expect(await ledger(store)).toEqual(['charged']);
    expect(await effects.lookup('k')).toEqual({ kind: 'completed', receipt: bytes('receipt') });
  });

  it('exclusive: a key another owner holds is reported in flight, and nothing of the work is written', async () => {
    const { store, effects } = await setup();
    await effects.claimOrGet('k', 0, { owner: 'elsewhere', leaseMs: 30_000 });
    const outcome = await effects.runOnce('k', 1, claim, charge, { conditions: fence, exclusive: true });
    expect(outcome).toEqual({ kind: 'inFlight', owner: 'elsewhere', expiresAtMs: 30_000 });
    expect(await ledger(store)).toEqual([]);
  });

  it('exclusive: a failed condition or work that throws writes nothing, and the key can run again', async () => {
    const { store, effects } = await setup();
    const stale = [{ op: 'check', key: 'lease-epoch', equals: 0 }] as const;
    const error = await effects.runOnce('k', 0, claim, charge, { conditions: stale, exclusive: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionFailedError);
    const thrown = await effects
      .runOnce('k', 0, claim, (tx) => (tx.append('ledger', bytes('half')), Promise.reject(new Error('crashed'))), { conditions: fence, exclusive: true })
      .catch((e: unknown) => e);
    expect(thrown).toMatchObject({ message: 'crashed' });
    expect(await ledger(store)).toEqual([]);
    expect(await effects.lookup('k')).toBeUndefined();
    expect(await effects.runOnce('k', 0, claim, charge, { conditions: fence, exclusive: true })).toMatchObject({ kind: 'processed' });
    expect(await ledger(store)).toEqual(['charged']);
  });

  it('exclusive: an unknown outcome that landed is read back (done once), one that did not rejects and can run again', async () => {
    const { store, effects } = await setup();
    store.loseNext = true;
    expect(await effects.runOnce('k', 0, claim, charge, { conditions: fence, exclusive: true })).toEqual({ kind: 'duplicate', receipt: bytes('receipt') });
    expect(await effects.runOnce('k', 1, claim, charge, { conditions: fence, exclusive: true })).toEqual({ kind: 'duplicate', receipt: bytes('receipt') });
    expect(await ledger(store)).toEqual(['charged']);

    store.refuseNext = true;
    const error = await effects.runOnce('j', 0, claim, charge, { conditions: fence, exclusive: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(await effects.lookup('j')).toBeUndefined();
    expect(await effects.runOnce('j', 1, claim, charge, { conditions: fence, exclusive: true })).toEqual({ kind: 'processed', receipt: bytes('receipt') });
    expect(await ledger(store)).toEqual(['charged', 'charged']);
  });

  it('refuses a non-boolean exclusive and bad claim options before any work runs', async () => {
    const { effects } = await setup();
    let ran = 0;
    const work = (tx: EffectTx) => void (ran += 1, tx.append('ledger', bytes('x')));
    const bad = { exclusive: 'yes' } as unknown as { exclusive: boolean };
    await expect(effects.runOnce('k', 0, claim, work, bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(effects.runOnce('k', 0, { owner: '', leaseMs: 1 }, work, { exclusive: true })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(ran).toBe(0);
  });
});
