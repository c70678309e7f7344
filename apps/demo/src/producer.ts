import { systemClock, type Clock, type DurableChannel } from '@liminal/durability';
import { CasConflictError, type DurableStore } from '@liminal/store';
import type { Run } from './manifest.js';
import { sleep } from './outage.js';
import { encodeOrder, makeOrder } from './orders.js';

const batch = 100;

/** `--rate`: at most `ordersPerSecond` orders published per second, on `clock` (tests pass a manual one). */
export interface Pace {
  readonly ordersPerSecond: number;
  readonly clock?: Clock;
}

/**
 * Publishes the run's orders, resuming after the stored high-water mark.
 * Every publish carries the order id as idempotency key, so `DurableChannel`
 * stores each order once however often the producer is killed and restarted
 * (the message and its receipt are one commit; an unknown outcome is resolved
 * by reading). A batch is published concurrently, which the channel groups
 * into a few commits per partition. With a `pace`, the orders are spread
 * over time (`--rate`), so a run lasts long enough to watch, or to disrupt.
 */
export async function produce(store: DurableStore, channel: DurableChannel, run: Run, signal: AbortSignal, pace?: Pace): Promise<void> {
  let next = (await store.readValue(run.names.published)) ?? 0;
  const clock = pace?.clock ?? systemClock;
  const first = next;
  const startedAt = clock.now();
  // Ten batches a second at most, so a paced run publishes smoothly rather than a second's worth at once.
  const size = pace === undefined ? batch : Math.max(1, Math.min(batch, Math.ceil(pace.ordersPerSecond / 10)));
  while (next < run.messages && !signal.aborted) {
    if (pace !== undefined) {
      const due = startedAt + ((next - first) / pace.ordersPerSecond) * 1000;
      if (due > clock.now()) await sleep(due - clock.now(), signal, clock);
      if (signal.aborted) break;
    }
    const end = Math.min(next + size, run.messages);
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
