import { codec, DurableChannel } from '@liminal/durability';
import { MemoryStore, type DurableStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { startOrResume, type Run } from '../src/manifest.js';
import { encodeOrder, makeOrder } from '../src/orders.js';
import { produce } from '../src/producer.js';

async function setup(messages: number): Promise<{ store: DurableStore; run: Run; channel: DurableChannel }> {
  const store = new MemoryStore();
  const { run } = await startOrResume(store, { settings: { messages, partitions: 2, seed: 1 }, explicit: new Set(), reset: false }, async () => false);
  return { store, run, channel: new DurableChannel(store, run.names.channel, { partitions: 2 }) };
}

async function publishedKeys(store: DurableStore, channel: DurableChannel): Promise<string[]> {
  const keys: string[] = [];
  for (let p = 0; p < channel.partitions; p++) {
    for (const { payload } of await store.readFrom(channel.streamFor(p), 0, 1_000)) keys.push(codec.decodeAs(payload, 'channelMessage').key);
  }
  return keys.sort();
}

const never = new AbortController().signal;

describe('producer', () => {
  it('publishes every order once, and again-from-scratch publishes nothing new', async () => {
    const { store, run, channel } = await setup(250);
    await produce(store, channel, run, never);
    expect(await store.readValue(run.names.published)).toBe(250);
    // As if the producer had died before ever advancing its high-water mark: it republishes
    // everything, and the idempotency keys keep one copy of each order.
    await store.cas(run.names.published, 250, 0);
    await produce(store, channel, run, never);
    expect(await store.readValue(run.names.published)).toBe(250);
    const keys = await publishedKeys(store, channel);
    expect(keys).toHaveLength(250);
    expect(new Set(keys).size).toBe(250);
  });

  it('a publish claimed but never appended (producer killed in between) is published on resume', async () => {
    const { store, run, channel } = await setup(3);
    await channel.publishDedup.claimOrGet(makeOrder(1, 0).id, 1);
    await produce(store, channel, run, never);
    expect(await publishedKeys(store, channel)).toEqual(['order-000000', 'order-000001', 'order-000002']);
  });

  it('a publish appended but without its receipt (producer killed in between) is not appended twice', async () => {
    const { store, run, channel } = await setup(3);
    const order = makeOrder(1, 0);
    await channel.publishDedup.claimOrGet(order.id, 1);
    await channel.publish(encodeOrder(order), { key: order.id }); // the append that happened before the kill
    await produce(store, channel, run, never);
    expect(await publishedKeys(store, channel)).toEqual(['order-000000', 'order-000001', 'order-000002']);
    expect(await channel.publishDedup.lookup(order.id)).toMatchObject({ kind: 'completed' });
  });
});
