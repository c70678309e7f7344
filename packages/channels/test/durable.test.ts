import { DurableChannel, messageIdFor, partitionStreamFor } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { availableStoreKinds, ManualClock } from '@liminal/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, decodeDurableMessage, type Delivery } from '../src/index.js';

const kinds = await availableStoreKinds();

describe.each(kinds.map((kind) => [kind.name, kind] as const))('durable channels on %s', (_name, kind) => {
  let store: DurableStore;
  let registry: ChannelRegistry;

  afterEach(async () => {
    await registry.closeAll();
    await store.close();
  });

  it('stores every message through DurableChannel, in order per key, and delivers it with its sequence', async () => {
    store = await kind.open();
    registry = new ChannelRegistry({ store });
    const channel = registry.create<{ n: number }>({ name: 'ledger', mode: 'durable', partitions: 2 });
    const seen: Delivery<{ n: number }>[] = [];
    channel.subscribe((d) => void seen.push(d));
    const results = [];
    for (let n = 0; n < 3; n += 1) results.push(await channel.publish({ n }, { key: 'account-1' }));
    const partition = results[0]!.partition;
    expect(results.map((r) => [r.partition, r.sequence, r.delivered])).toEqual([
      [partition, 0, 1],
      [partition, 1, 1],
      [partition, 2, 1],
    ]);
    expect(seen.map((d) => [d.message.n, d.sequence])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);

    // What was stored is readable by any DurableChannel consumer, with the ids subscribers saw.
    const consumer = await new DurableChannel(store, 'ledger', { partitions: 2 }).consume('auditor', partition);
    const envelopes = await consumer.poll();
    expect(envelopes.map((e) => decodeDurableMessage(e.payload))).toEqual(
      results.map((r, n) => ({ messageId: r.messageId, message: { n } })),
    );
    // One id per message: the log's envelope carries the id subscribers saw, in the repo's one id format.
    expect(envelopes.map((e) => e.messageId)).toEqual(results.map((r) => r.messageId));
    for (const { messageId } of results) expect(messageId).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(envelopes[0]?.traceparent).toBe(seen[0]?.traceparent);
  });

  it('stores and delivers a message once per idempotency key, returning the first publish’s coordinates', async () => {
    store = await kind.open();
    registry = new ChannelRegistry({ store });
    const channel = registry.create<string>({ name: 'payments', mode: 'durable' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    const first = await channel.publish('charge', { idempotencyKey: 'pay-1' });
    const again = await channel.publish('charge', { idempotencyKey: 'pay-1' });
    expect(again).toEqual({ messageId: first.messageId, partition: first.partition, sequence: first.sequence, delivered: 0, held: false, duplicate: true });
    // The id is derived from the key, as DurableChannel derives it: a retry from another process names the same message.
    expect(first.messageId).toBe(messageIdFor('payments', 'pay-1'));
    expect(first.messageId).toBe(new DurableChannel(store, 'payments', { partitions: 1 }).messageIdFor('pay-1'));
    const [envelope] = await (await new DurableChannel(store, 'payments', { partitions: 1 }).consume('auditor', 0)).poll();
    expect(envelope?.messageId).toBe(first.messageId);
    expect(seen).toEqual(['charge']);
    expect(await store.streamLength(partitionStreamFor('payments', 0))).toBe(1);
  });

  it('a scheduled publish (deliverAt) reaches durable subscribers when the registry clock gets there, never live subscribers; a repeat is a duplicate', async () => {
    store = await kind.open();
    const clock = new ManualClock();
    registry = new ChannelRegistry({ store, clock });
    const channel = registry.create<{ text: string }>({ name: 'reminders', mode: 'durable', partitions: 1 });
    const live: string[] = [];
    channel.subscribe((d) => void live.push(d.message.text));
    const stored: string[] = [];
    const subscription = await channel.subscribeDurable('readers', (d) => void stored.push(`${d.message.text}@${d.sequence}@${clock.now()}`), {
      leaseMs: 60_000,
      heartbeatMs: 50,
      pollMs: 600_000,
    });
    const at = clock.now();
    const result = await channel.publish({ text: 'pay rent' }, { key: 'flat-1', idempotencyKey: 'rent-1', deliverAt: at + 1_000 });
    expect(result).toMatchObject({ partition: 0, deliverAt: at + 1_000, delivered: 0, held: false, duplicate: false });
    expect(result.sequence).toBeUndefined();
    const again = await channel.publish({ text: 'pay rent' }, { key: 'flat-1', idempotencyKey: 'rent-1', deliverAt: at + 5_000 });
    expect(again).toMatchObject({ messageId: result.messageId, deliverAt: at + 1_000, duplicate: true });
    await expect(channel.publish({ text: 'pay rent' }, { key: 'flat-1', idempotencyKey: 'rent-1' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await channel.publish({ text: 'now' }, { key: 'flat-2' });
    await until(() => stored.length === 1 && clock.pendingTimers === 1);
    expect(stored).toEqual([`now@0@${at}`]);
    clock.advance(1_000);
    await until(() => stored.length === 2);
    expect(stored).toEqual([`now@0@${at}`, `pay rent@1@${at + 1_000}`]);
    expect(live).toEqual(['now']);
    await subscription.close();
  });

  it('deliverAt that is not a non-negative safe integer is InvalidArgumentError, and an ephemeral channel refuses any; nothing is stored', async () => {
    store = await kind.open();
    registry = new ChannelRegistry({ store });
    const durable = registry.create({ name: 'reminders', mode: 'durable', partitions: 1 });
    const ephemeral = registry.create({ name: 'chat', mode: 'ephemeral' });
    for (const deliverAt of [Number.NaN, Number.POSITIVE_INFINITY, 2.5, -1]) {
      await expect(durable.publish({}, { deliverAt })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.deliverAt' });
    }
    await expect(ephemeral.publish({}, { deliverAt: Date.now() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'options.deliverAt' });
    expect(await store.listStreams('')).toEqual([]);
  });
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000; // a hang guard only
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
