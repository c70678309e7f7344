import { codec, InFlightError, type DurableChannel } from '@liminal/durability';
import { CasConflictError, type DurableStore } from '@liminal/store';
import type { Run } from './manifest.js';
import { encodeOrder, makeOrder, type Order } from './orders.js';

const batch = 100;

/**
 * Publishes the run's orders, resuming after the stored high-water mark.
 * Every publish carries the order id as idempotency key, so the orders
 * between the mark and a crash are not published twice when the producer
 * starts again.
 */
export async function produce(store: DurableStore, channel: DurableChannel, run: Run, signal: AbortSignal): Promise<void> {
  let next = (await store.readValue(run.names.published)) ?? 0;
  while (next < run.messages && !signal.aborted) {
    const end = Math.min(next + batch, run.messages);
    for (let index = next; index < end; index++) await publishOnce(channel, makeOrder(run.seed, index));
    try {
      await store.cas(run.names.published, next, end);
    } catch (error) {
      if (!(error instanceof CasConflictError)) throw error;
      // A store failure after the cas committed (then a retry) already moved the mark.
      if (error.actual < end) throw error;
    }
    next = end;
  }
}

async function publishOnce(channel: DurableChannel, order: Order): Promise<void> {
  const options = { key: order.id, idempotencyKey: order.id };
  try {
    await channel.publish(encodeOrder(order), options);
  } catch (error) {
    if (!(error instanceof InFlightError)) throw error;
    // The previous producer died between claiming this order and storing its receipt. It was the
    // only producer and published in order, so if the append happened it is near the partition's end.
    const found = await findRecent(channel, order.id);
    if (found === undefined) {
      await channel.publishDedup.releaseClaim(order.id);
      await channel.publish(encodeOrder(order), options);
    } else {
      const receipt = codec.encode({ kind: 'publishReceipt', ...found });
      await channel.publishDedup.completeReceipt(order.id, receipt);
    }
  }
}

async function findRecent(channel: DurableChannel, key: string): Promise<{ messageId: string; partition: number; sequence: number } | undefined> {
  const partition = channel.partitionFor(key);
  const stream = channel.streamFor(partition);
  const length = await channel.store.streamLength(stream);
  const entries = await channel.store.readFrom(stream, Math.max(0, length - batch), batch);
  for (const { sequence, payload } of entries) {
    const message = codec.decodeAs(payload, 'channelMessage');
    if (message.key === key) return { messageId: message.messageId, partition, sequence };
  }
  return undefined;
}
