import { DurableChannel, messageIdFor, partitionStreamFor } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';
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
});
