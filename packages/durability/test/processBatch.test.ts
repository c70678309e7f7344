import { InvalidArgumentError, StoreUnavailableError, type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { ConditionFailedError, cursorKeyFor, DurableChannel, EffectConflictError, type ChannelEnvelope, type EffectTx } from '../src/index.js';
import { bytes, claimedKeys, CountingStore, readAll, storeKinds, text, useStore } from './support/stores.js';

/** Refuses every commit that writes the ledger (the handlers' work) while `refusing`: as a crash before the commit landed. */
class RefusingStore extends ForwardingStore {
  refusing = false;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    if (this.refusing && ops.some((op) => op.op === 'append' && op.stream === 'ledger')) throw new StoreUnavailableError('connection refused', { ambiguous: false });
    return super.commit(ops);
  }
}

/** Lets the next ledger-writing commit land, then reports a lost connection (an unknown outcome). */
class LosingStore extends ForwardingStore {
  loseNext = false;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    if (!this.loseNext || !ops.some((op) => op.op === 'append' && op.stream === 'ledger')) return super.commit(ops);
    this.loseNext = false;
    await super.commit(ops);
    throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
  }
}

/** `messages` messages on one partition, published before a consumer (owner `billing-1`) polls them all. */
async function setup(store: DurableStore, messages: number) {
  const channel = new DurableChannel(store, 'orders', { partitions: 1 });
  for (let n = 0; n < messages; n++) await channel.publish(bytes(`m${n}`), { key: 'k' });
  const consumer = await channel.consume('billing', 0, { owner: 'billing-1' });
  return { channel, consumer, envelopes: await consumer.poll(messages) };
}

const charge = (envelope: ChannelEnvelope, tx: EffectTx) => {
  tx.append('ledger', bytes(`charged ${text(envelope.payload)}`));
  return bytes(`receipt ${text(envelope.payload)}`);
};

const ledger = async (store: DurableStore) => (await readAll(store, 'ledger')).map((entry) => text(entry.payload));
const charged = (from: number, to: number) => Array.from({ length: to - from }, (_, n) => `charged m${from + n}`);
const cursorOf = (store: DurableStore) => store.readValue(cursorKeyFor('billing', 'orders', 0));
/** Claimed batches (claims first, then the work), and exclusive ones (the conditions alone fence: no claims). */
const modes = [{ exclusive: false }, { exclusive: true }];

describe.each(storeKinds)('processBatch on $name', (kind) => {
  const open = useStore(kind);

  it('commits every message of a batch in one commit, effects in offset order, then the next batch claimed ahead in it', async () => {
    const inner = await open();
    await setup(inner, 16);
    const store = new CountingStore(inner);
    const consumer = await new DurableChannel(store, 'orders', { partitions: 1 }).consume('billing', 0, { owner: 'billing-1' });
    const envelopes = await consumer.poll(16);
    const first = await consumer.processBatch(envelopes.slice(0, 8), (envelope, tx) => {
      charge(envelope, tx);
      tx.append('ledger', bytes(`noted m${envelope.offset}`)); // a second append to the same stream, after the first
      return bytes(`receipt ${envelope.offset}`);
    });
    expect(first).toEqual(envelopes.slice(0, 8).map(({ offset }) => ({ kind: 'processed', receipt: bytes(`receipt ${offset}`) })));
    expect(store.commits).toBe(2); // the 8 claims, then the work (with the next 8 claims)
    expect(await consumer.processBatch(envelopes.slice(8), charge)).toHaveLength(8);
    expect(store.commits).toBe(3); // its claims rode in the first batch's commit
    expect(await ledger(inner)).toEqual([...envelopes.slice(0, 8).flatMap(({ offset }) => [`charged m${offset}`, `noted m${offset}`]), ...charged(8, 16)]);
    expect(await cursorOf(inner)).toBe(16);
    expect(await consumer.processed.lookup(envelopes[3]!.messageId)).toEqual({ kind: 'completed', receipt: bytes('receipt 3') });
    expect(await claimedKeys(inner, consumer.processed.namespace)).toEqual([]); // no claim is left in flight
  });

  it.each(modes)('a handler that throws: the messages before it are committed, it and the rest are not (released, position at it), the error is rethrown (exclusive: $exclusive)', async ({ exclusive }) => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 6);
    const ran: number[] = [];
    const refused = new Error('refused m3');
    const batch = consumer.processBatch(
      envelopes,
      (envelope, tx) => {
        ran.push(envelope.offset);
        if (envelope.offset === 3) {
          tx.append('ledger', bytes('never'));
          throw refused;
        }
        return charge(envelope, tx);
      },
      { exclusive },
    );
    await expect(batch).rejects.toBe(refused);
    expect(ran).toEqual([0, 1, 2, 3]); // the ones after it did not run
    expect(await ledger(store)).toEqual(charged(0, 3));
    expect(await cursorOf(store)).toBe(3);
    expect(consumer.position).toBe(3);
    for (const envelope of envelopes.slice(3)) expect(await consumer.processed.lookup(envelope.messageId)).toBeUndefined();
    // Retried (here by another owner, who need not wait for any claim): the rest once each.
    const next = await channel.consume('billing', 0, { owner: 'billing-2' });
    expect(await next.processBatch(await next.poll(10), charge, { exclusive })).toHaveLength(3);
    expect(await ledger(store)).toEqual(charged(0, 6));
    expect(await cursorOf(store)).toBe(6);
  });

  it.each(modes)('a conflicting effect of a later message commits the messages before it and rejects with EffectConflictError (exclusive: $exclusive)', async ({ exclusive }) => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 5);
    const batch = consumer.processBatch(
      envelopes,
      (envelope, tx) => {
        if (envelope.offset === 2) tx.cas('stock', 7, 8); // the counter holds 0: conflicts at the commit
        return charge(envelope, tx);
      },
      { exclusive },
    );
    await expect(batch).rejects.toBeInstanceOf(EffectConflictError);
    expect(await ledger(store)).toEqual(charged(0, 2));
    expect(await cursorOf(store)).toBe(2);
    expect(consumer.position).toBe(2);
    expect(await store.readValue('stock')).toBeUndefined();
    for (const envelope of envelopes.slice(2)) expect(await consumer.processed.lookup(envelope.messageId)).toBeUndefined();
  });

  it.each(modes)('a lease lost while the batch runs writes nothing of it (ConditionFailedError); the next owner redoes the whole batch once (exclusive: $exclusive)', async ({ exclusive }) => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 6);
    await store.cas('epoch', 0, 1);
    const fence: WriteOp = { op: 'check', key: 'epoch', equals: 1 };
    const batch = consumer.processBatch(
      envelopes,
      async (envelope, tx) => {
        if (envelope.offset === 4) await store.cas('epoch', 1, 2); // another member takes the partition over meanwhile
        return charge(envelope, tx);
      },
      { conditions: [fence], exclusive },
    );
    await expect(batch).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await ledger(store)).toEqual([]);
    expect(await cursorOf(store)).toBeUndefined();
    for (const envelope of envelopes) expect(await consumer.processed.lookup(envelope.messageId)).toBeUndefined();
    const next = await channel.consume('billing', 0, { owner: 'billing-2' });
    const outcomes = await next.processBatch(await next.poll(10), charge, { conditions: [{ op: 'check', key: 'epoch', equals: 2 }], exclusive });
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(6).fill('processed'));
    expect(await ledger(store)).toEqual(charged(0, 6));
  });

  it.each(modes)('a crash before the batch commit lands stores nothing of it: after a restart every message runs again, and its effects land once (exclusive: $exclusive)', async ({ exclusive }) => {
    const inner = await open();
    await setup(inner, 4);
    const store = new RefusingStore(inner);
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const doomed = await channel.consume('billing', 0, { owner: 'billing-1' });
    store.refusing = true;
    await expect(doomed.processBatch(await doomed.poll(10), charge, { exclusive })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await ledger(inner)).toEqual([]);
    expect(await cursorOf(inner)).toBeUndefined();
    store.refusing = false;
    const restarted = await channel.consume('billing', 0, { owner: 'billing-1' }); // the same owner takes its own claims over
    const ran: number[] = [];
    const outcomes = await restarted.processBatch(
      await restarted.poll(10),
      (envelope, tx) => {
        ran.push(envelope.offset);
        return charge(envelope, tx);
      },
      { exclusive },
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['processed', 'processed', 'processed', 'processed']);
    expect(ran).toEqual([0, 1, 2, 3]);
    expect(await ledger(inner)).toEqual(charged(0, 4));
    expect(await cursorOf(inner)).toBe(4);
  });

  it.each(modes)('a batch holding a message processed before goes one message at a time: the duplicate is skipped, the others run once (exclusive: $exclusive)', async ({ exclusive }) => {
    const store = await open();
    const { channel, consumer, envelopes } = await setup(store, 3);
    await consumer.processBatch(envelopes, charge, { exclusive });
    await store.cas(cursorKeyFor('billing', 'orders', 0), 3, 1); // as if the cursor had been checkpointed at 1 only
    await channel.publish(bytes('m3'), { key: 'k' });
    const fresh = await channel.consume('billing', 0, { owner: 'billing-2' });
    const outcomes = await fresh.processBatch(await fresh.poll(10), charge, { exclusive });
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['duplicate', 'duplicate', 'processed']);
    expect(await ledger(store)).toEqual(charged(0, 4));
    expect(await cursorOf(store)).toBe(4);
  });

  it('exclusive: a batch costs one commit and takes no claim, before or while its handlers run', async () => {
    const inner = await open();
    await setup(inner, 8);
    const store = new CountingStore(inner);
    const consumer = await new DurableChannel(store, 'orders', { partitions: 1 }).consume('billing', 0, { owner: 'billing-1' });
    const claimsSeen: string[] = [];
    const envelopes = await consumer.poll(8);
    const outcomes = await consumer.processBatch(
      envelopes,
      async (envelope, tx) => {
        claimsSeen.push(...(await inner.listStreams('claim/')));
        return charge(envelope, tx);
      },
      { exclusive: true },
    );
    expect(outcomes.map(({ kind }) => kind)).toEqual(Array(8).fill('processed'));
    expect(store.commits).toBe(1);
    expect(claimsSeen).toEqual([]);
    expect(await inner.listStreams('claim/')).toEqual([]);
    expect(await ledger(inner)).toEqual(charged(0, 8));
    expect(await cursorOf(inner)).toBe(8);
    expect(await consumer.processed.lookup(envelopes[5]!.messageId)).toEqual({ kind: 'completed', receipt: bytes('receipt m5') });
  });

  it('exclusive: a message another owner holds is found at the commit: the ones before it commit, its work and the rest are dropped, it is inFlight', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 4);
    expect((await consumer.processed.claimOrGet(envelopes[2]!.messageId, Date.now(), { owner: 'other', leaseMs: 60_000 })).kind).toBe('claimed');
    const ran: number[] = [];
    const outcomes = await consumer.processBatch(
      envelopes,
      (envelope, tx) => {
        ran.push(envelope.offset);
        return charge(envelope, tx);
      },
      { exclusive: true },
    );
    expect(outcomes.map(({ kind }) => kind)).toEqual(['processed', 'processed', 'inFlight']);
    expect(ran).toEqual([0, 1, 2, 3]); // run before the commit found the claim; only 0 and 1 were written
    expect(await ledger(store)).toEqual(charged(0, 2));
    expect(await cursorOf(store)).toBe(2);
    expect(consumer.position).toBe(2);
    expect(await consumer.processed.lookup(envelopes[3]!.messageId)).toBeUndefined();
  });

  it('exclusive: a commit lost at COMMIT is resolved by reading the cursor: it landed, so every message counts as processed, once', async () => {
    const inner = await open();
    await setup(inner, 3);
    const store = new LosingStore(inner);
    const consumer = await new DurableChannel(store, 'orders', { partitions: 1 }).consume('billing', 0, { owner: 'billing-1' });
    store.loseNext = true;
    const outcomes = await consumer.processBatch(await consumer.poll(3), charge, { exclusive: true });
    expect(outcomes.map(({ kind }) => kind)).toEqual(['processed', 'processed', 'processed']);
    expect(await ledger(inner)).toEqual(charged(0, 3));
    expect(consumer.cursor.currentOffset).toBe(3);
  });

  it('refuses what is not a run of its own envelopes (InvalidArgumentError) before anything runs or is stored', async () => {
    const store = await open();
    const { consumer, envelopes } = await setup(store, 3);
    let ran = 0;
    const handler = () => void ran++;
    for (const bad of [[], [envelopes[0]!, envelopes[2]!], [envelopes[1]!, envelopes[0]!], [{ ...envelopes[0]!, partition: 1 }], 'm0']) {
      await expect(consumer.processBatch(bad as ChannelEnvelope[], handler), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(consumer.processBatch(envelopes, handler, { exclusive: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(ran).toBe(0);
    expect(await store.listStreams('dedup/')).toEqual([]);
    expect(await cursorOf(store)).toBeUndefined();
  });
});
