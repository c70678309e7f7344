import type { DurableChannel } from '@liminal/durability';
import { CasConflictError, type DurableStore } from '@liminal/store';
import type { Run } from './manifest.js';
import { encodeOrder, makeOrder } from './orders.js';

const batch = 100;

/**
 * Publishes the run's orders, resuming after the stored high-water mark.
 * Every publish carries the order id as idempotency key, so `DurableChannel`
 * stores each order once however often the producer is killed and restarted
 * (the message and its receipt are one commit; an unknown outcome is resolved
 * by reading). A batch is published concurrently, which the channel groups
 * into a few commits per partition.
 */
export async function produce(store: DurableStore, channel: DurableChannel, run: Run, signal: AbortSignal): Promise<void> {
  let next = (await store.readValue(run.names.published)) ?? 0;
  while (next < run.messages && !signal.aborted) {
    const end = Math.min(next + batch, run.messages);
    const orders = Array.from({ length: end - next }, (_, i) => makeOrder(run.seed, next + i));
    await Promise.all(orders.map((order) => channel.publish(encodeOrder(order), { key: order.id, idempotencyKey: order.id })));
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
