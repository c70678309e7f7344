import { CheckFailedError, InvalidArgumentError, StoreUnavailableError, type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import {
  ClaimLostError,
  ConditionFailedError,
  cursorKeyFor,
  DedupCache,
  DurableChannel,
  EffectConflictError,
  EffectTxClosedError,
  type ChannelEnvelope,
  type EffectTx,
} from '../src/index.js';
import { bytes, claimedKeys, CountingStore, readAll, storeKinds, text, useStore } from './support/stores.js';

/**
 * Fails the next `failNext` commits that write the ledger (the handler's work): `applied` ones land and
 * then report a lost connection (ambiguous), the others are refused.
 */
class FailingStore extends ForwardingStore {
  failNext = 0;
  applied = false;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const work = ops.some((op) => op.op === 'append' && op.stream === 'ledger');
    if (this.failNext === 0 || !work) return super.commit(ops);
    this.failNext -= 1;
    if (!this.applied) throw new StoreUnavailableError('connection refused', { ambiguous: false });
    await super.commit(ops);
    throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
  }
}

async function setup(store: DurableStore, messages = 1, options: Parameters<DurableChannel['consume']>[2] = {}) {
  const channel = new DurableChannel(store, 'orders', { partitions: 1 });
  for (let n = 0; n < messages; n++) await channel.publish(bytes(`m${n}`), { key: 'k' });
  const consumer = await channel.consume('billing', 0, options);
  return { channel, consumer, envelopes: await consumer.poll(messages) };
}

const charge = (envelope: ChannelEnvelope, tx: EffectTx) => {
  tx.append('ledger', bytes(`charged ${text(envelope.payload)}`));
  return bytes(`receipt ${text(envelope.payload)}`);
};

const ledger = async (store: DurableStore) => (await readAll(store, 'ledger')).map((entry) => text(entry.payload));

describe.each(storeKinds)('processOnce with an EffectTx on $name', (kind) => {
  const open = useStore(kind);

  it('commits the handler’s effects, the receipt and the cursor advance together', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store);
    const outcome = await consumer.processOnce(envelopes[0]!, (envelope, tx) => {
      tx.append('ledger', bytes('charged m0'));
      tx.append('ledger', bytes('noted m0'));
      tx.cas('charges', 0, 1);
      expect(tx.idempotencyKey).toBe(envelope.idempotencyKey);
      return bytes('receipt');
    });
    expect(outcome).toEqual({ kind: 'processed', receipt: bytes('receipt') });
    expect(await ledger(store)).toEqual(['charged m0', 'noted m0']);
    expect(await store.readValue('charges')).toBe(1);
    expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBe(1);
    expect(await consumer.processed.lookup(envelopes[0]!.messageId)).toEqual({ kind: 'completed', receipt: bytes('receipt') });
  });

  it('writes nothing when the commit fails, and the retry applies each effect once', async () => {
    const inner = await open();
    const store = new FailingStore(inner);
    const { consumer, envelopes } = await setup(store);
    store.failNext = 1;
    await expect(consumer.processOnce(envelopes[0]!, charge)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await ledger(inner)).toEqual([]);
    expect(consumer.position).toBe(0);
    expect(await consumer.processed.lookup(envelopes[0]!.messageId)).toBeUndefined(); // released: retry at once
    const [again] = await consumer.poll(1);
    expect((await consumer.processOnce(again!, charge)).kind).toBe('processed');
    expect(await ledger(inner)).toEqual(['charged m0']);
  });

  it('resolves a commit lost at COMMIT by reading: it landed, so it counts as processed, once', async () => {
    const inner = await open();
    const store = new FailingStore(inner);
    const { consumer, envelopes } = await setup(store);
    store.failNext = 1;
    store.applied = true;
    expect(await consumer.processOnce(envelopes[0]!, charge)).toEqual({ kind: 'processed', receipt: bytes('receipt m0') });
    expect(await ledger(inner)).toEqual(['charged m0']);
    expect(consumer.cursor.currentOffset).toBe(1);
  });

  it('skips redelivered messages after a restart: no effect is applied twice', async () => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 3, { checkpoint: { kind: 'explicitFlush' } });
    for (const envelope of envelopes) await consumer.processOnce(envelope, charge);
    const restarted = await channel.consume('billing', 0); // the flush never happened: everything comes again
    const outcomes = [];
    for await (const envelope of restarted) outcomes.push((await restarted.processOnce(envelope, charge)).kind);
    expect(outcomes).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await ledger(store)).toEqual(['charged m0', 'charged m1', 'charged m2']);
    expect(restarted.cursor.currentOffset).toBe(3);
  });

  it('fences a handler that outlived its lease: the owner that took over commits, the slow one writes nothing', async () => {
    const store = await open();
    let now = 0;
    const clock = () => now;
    const { channel, consumer: slow, envelopes } = await setup(store, 1, { owner: 'slow', leaseMs: 100, clock });
    const fast = await channel.consume('billing', 0, { owner: 'fast', leaseMs: 100, clock });
    let release!: () => void;
    const slowRun = slow.processOnce(envelopes[0]!, async (envelope, tx) => {
      await new Promise<void>((resolve) => (release = resolve));
      tx.append('ledger', bytes('charged by slow'));
    });
    await new Promise((resolve) => setTimeout(resolve, 50)); // slow holds the claim and is inside its handler
    expect(await fast.processOnce(envelopes[0]!, charge)).toEqual({ kind: 'inFlight', owner: 'slow', expiresAtMs: 100 });
    now = 100; // the lease ran out
    expect((await fast.processOnce(envelopes[0]!, charge)).kind).toBe('processed');
    release();
    await expect(slowRun).rejects.toBeInstanceOf(ClaimLostError);
    expect(await ledger(store)).toEqual(['charged m0']);
    expect(slow.position).toBe(0); // the slow consumer will see it again, as a duplicate
    const [again] = await slow.poll(1);
    expect((await slow.processOnce(again!, charge)).kind).toBe('duplicate');
  });

  it('commits extra conditions with the work; a failed one rejects with ConditionFailedError and writes nothing', async () => {
    const store = await open();
    await store.cas('lease-epoch', 0, 3);
    const { consumer, envelopes } = await setup(store, 2);
    const stale = [{ op: 'check', key: 'lease-epoch', equals: 2 }] as const;
    const error = await consumer.processOnce(envelopes[0]!, charge, { conditions: stale }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error).toMatchObject({ code: 'CONDITION_FAILED', index: 0 });
    expect((error as ConditionFailedError).cause).toBeInstanceOf(CheckFailedError);
    expect(await ledger(store)).toEqual([]);
    expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBeUndefined();
    expect(await consumer.processed.lookup(envelopes[0]!.messageId)).toBeUndefined();
    const current = [{ op: 'check', key: 'lease-epoch', equals: 3 }] as const;
    expect((await consumer.processOnce(envelopes[0]!, charge, { conditions: current })).kind).toBe('processed');
    expect(await ledger(store)).toEqual(['charged m0']);
  });

  it('checks the conditions on the claim too: with a stale fence the handler does not run and nothing is claimed', async () => {
    const store = await open();
    await store.cas('lease-epoch', 0, 3);
    const { consumer, envelopes } = await setup(store, 1, { owner: 'zombie' });
    let ran = false;
    const stale = [{ op: 'check', key: 'lease-epoch', equals: 2 }] as const;
    const error = await consumer.processOnce(envelopes[0]!, () => void (ran = true), { conditions: stale }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(ran).toBe(false);
    expect(consumer.position).toBe(0);
    expect(await store.listStreams('dedup/')).toEqual([]);
  });

  it('gives the handler its conditions (tx.conditions): nested runOnce work is fenced by the same lease check', async () => {
    const store = await open();
    await store.cas('lease-epoch', 0, 3);
    const { consumer, envelopes } = await setup(store, 1);
    const effects = new DedupCache(store, 'effects');
    const fence = [{ op: 'check', key: 'lease-epoch', equals: 3 }] as const;
    const error = await consumer
      .processOnce(
        envelopes[0]!,
        async (envelope, tx) => {
          expect(tx.conditions).toEqual(fence);
          await store.cas('lease-epoch', 3, 4); // another member took the partition over while this handler ran
          await effects.runOnce('charge m0', 0, { owner: 'w', leaseMs: 1_000 }, (inner) => inner.append('ledger', bytes('charged m0')), { conditions: tx.conditions });
        },
        { conditions: fence },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(await ledger(store)).toEqual([]);
    expect(await effects.lookup('charge m0')).toBeUndefined(); // not even claimed
  });

  it('rejects a conflicting tx.cas with EffectConflictError and writes nothing, so the handler can decide anew', async () => {
    const store = await open();
    await store.cas('balance', 0, 10);
    const { consumer, envelopes } = await setup(store);
    const handler = (_: ChannelEnvelope, tx: EffectTx) => {
      tx.append('ledger', bytes('debit'));
      tx.cas('balance', 5, 4);
    };
    const error = await consumer.processOnce(envelopes[0]!, handler).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EffectConflictError);
    expect(error).toMatchObject({ code: 'EFFECT_CONFLICT', index: 1 });
    expect(await ledger(store)).toEqual([]);
    expect(await store.readValue('balance')).toBe(10);
    expect(await consumer.processed.lookup(envelopes[0]!.messageId)).toBeUndefined();
  });

  it('appends after effects another writer added to the same stream meanwhile', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 2);
    await consumer.processOnce(envelopes[0]!, charge); // the consumer now knows the ledger's length
    await store.append('ledger', bytes('written elsewhere'), 1);
    await consumer.processOnce(envelopes[1]!, charge);
    expect(await ledger(store)).toEqual(['charged m0', 'written elsewhere', 'charged m1']);
  });

  it('refuses effects queued after the handler returned (EffectTxClosedError) and never writes them', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 1);
    let leaked: EffectTx | undefined;
    await consumer.processOnce(envelopes[0]!, (_, tx) => {
      leaked = tx;
      tx.append('ledger', bytes('in time'));
    });
    expect(() => leaked!.append('ledger', bytes('too late'))).toThrow(EffectTxClosedError);
    expect(() => leaked!.cas('n', 0, 1)).toThrow(EffectTxClosedError);
    expect(await ledger(store)).toEqual(['in time']);
    expect(await store.readValue('n')).toBeUndefined();
  });

  it('rejects bad effects and receipts inside the handler: InvalidArgumentError, nothing written', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 1);
    const envelope = envelopes[0]!;
    const badHandlers: ((tx: EffectTx) => unknown)[] = [
      (tx) => tx.append('', bytes('x')),
      (tx) => tx.append('ledger', 'x' as never),
      (tx) => tx.append(consumer.processed.streamFor(envelope.messageId), bytes('forged receipt')),
      (tx) => tx.cas(cursorKeyFor('billing', 'orders', 0), 0, 99),
      (tx) => tx.cas('n', -1, 1),
      () => 'not bytes',
    ];
    for (const bad of badHandlers) {
      await expect(consumer.processOnce(envelope, (_, tx) => bad(tx) as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(consumer.processOnce(envelope, charge, { conditions: [{ op: 'drop' }] as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(consumer.processOnce(envelope, charge, null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.listStreams('ledger')).toEqual([]);
    expect(await consumer.processed.lookup(envelope.messageId)).toBeUndefined();
    expect((await consumer.processOnce(envelope, charge)).kind).toBe('processed');
  });

  it('runs concurrent processOnce calls on one consumer and checkpoints only the contiguous processed prefix', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 8);
    const gates = envelopes.map(() => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      return { gate, open };
    });
    const stored: number[] = [];
    const runs = envelopes.map((envelope, i) =>
      consumer.processOnce(envelope, async (e, tx) => {
        await gates[i]!.gate;
        tx.append('ledger', bytes(`charged ${text(e.payload)}`));
      }),
    );
    // Finish in the order 7, 6, ..., 1 (offset 0 still running), then 0.
    for (const i of [7, 6, 5, 4, 3, 2, 1]) {
      gates[i]!.open();
      await new Promise((resolve) => setTimeout(resolve, 5));
      stored.push((await store.readValue(cursorKeyFor('billing', 'orders', 0))) ?? 0);
    }
    gates[0]!.open();
    const outcomes = await Promise.all(runs);
    expect(outcomes.every((o) => o.kind === 'processed')).toBe(true);
    expect(stored.every((offset) => offset === 0)).toBe(true); // never past the unfinished offset 0
    expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBe(8);
    expect((await ledger(store)).sort()).toEqual(envelopes.map((e) => `charged ${text(e.payload)}`).sort());
  });

  it('costs one commit per message when processing in order: each work commit also claims the next polled message', async () => {
    const inner = await open();
    const { consumer, envelopes } = await setup(inner, 10, { owner: 'billing-1' });
    const store = new CountingStore(inner);
    const counted = await new DurableChannel(store, 'orders', { partitions: 1 }).consume('billing', 0, { owner: 'billing-1' });
    const polled = await counted.poll(10);
    expect(polled.map((e) => e.messageId)).toEqual(envelopes.map((e) => e.messageId));
    for (const envelope of polled) expect((await counted.processOnce(envelope, charge)).kind).toBe('processed');
    expect(store.commits).toBe(11); // the first message's claim, then one commit per message
    expect(await ledger(inner)).toEqual(envelopes.map((e) => `charged ${text(e.payload)}`));
    expect(await claimedKeys(inner, counted.processed.namespace)).toEqual([]); // the last message has no next one to claim
    expect(consumer.position).toBe(10);
  });

  it('a message claimed ahead is held against other owners until released; releaseClaims hands it over at once', async () => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 2, { owner: 'first' });
    expect((await consumer.processOnce(envelopes[0]!, charge)).kind).toBe('processed');
    const other = await channel.consume('billing', 0, { owner: 'second' });
    const [next] = await other.poll(1);
    expect(next!.offset).toBe(1);
    expect(await other.processOnce(next!, charge)).toMatchObject({ kind: 'inFlight', owner: 'first' });
    await consumer.releaseClaims();
    const [again] = await other.poll(1);
    expect((await other.processOnce(again!, charge)).kind).toBe('processed');
    expect(await ledger(store)).toEqual(['charged m0', 'charged m1']);
    expect(await claimedKeys(store, consumer.processed.namespace)).toEqual([]);
  });

  it('commits the work without the claim ahead when another owner holds the next message', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 2, { owner: 'first' });
    const decision = await consumer.processed.claimOrGet(envelopes[1]!.messageId, Date.now(), { owner: 'second', leaseMs: 60_000 });
    expect(decision.kind).toBe('claimed');
    expect(await consumer.processOnce(envelopes[0]!, charge)).toEqual({ kind: 'processed', receipt: bytes('receipt m0') });
    expect(await consumer.processOnce(envelopes[1]!, charge)).toMatchObject({ kind: 'inFlight', owner: 'second' });
    expect(await ledger(store)).toEqual(['charged m0']);
  });

  it('claims nothing ahead for a random owner (a crash would leave the next message held for a lease)', async () => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 2);
    expect((await consumer.processOnce(envelopes[0]!, charge)).kind).toBe('processed');
    const restarted = await channel.consume('billing', 0); // another random owner, as after a crash
    const [next] = await restarted.poll(1);
    expect((await restarted.processOnce(next!, charge)).kind).toBe('processed');
  });
});
