import { setTimeout as sleep } from 'node:timers/promises';
import { CommitConflictError, StoreUnavailableError, type CheckOp, type WriteOp } from '@liminal/store';
import type { ChannelEnvelope } from '../ChannelConsumer.js';
import type { DurableChannel } from '../DurableChannel.js';
import { LeaseLostError } from '../errors.js';
import type { GroupHandler } from '../GroupMember.js';
import type { Wakeups } from './Wakeups.js';

/** One held partition's work: what `workPartition` needs from its member. */
export interface PartitionWork {
  readonly channel: DurableChannel;
  readonly group: string;
  readonly partition: number;
  /** The lease check every commit carries: `{op: 'check', key: epoch(p), equals: heldEpoch}`. */
  readonly fence: CheckOp;
  readonly handler: GroupHandler;
  readonly wakeups: Wakeups;
  readonly batchSize: number;
  readonly pollMs: number;
  /** Stops the work at the next message boundary. */
  readonly signal: AbortSignal;
}

/** Store errors a member waits out (PostgreSQL restarting, a connection dropped) instead of failing. */
export function isOutage(error: unknown): boolean {
  return error instanceof StoreUnavailableError;
}

/**
 * Processes one partition from the group's cursor until `signal` aborts,
 * waking on the store's `watch` of the partition stream (`pollMs` as the
 * fallback). Every commit carries the lease check, so a member that lost
 * the lease (paused past it, say) writes nothing: `LeaseLostError`. Store
 * outages are waited out (100 ms doubling to 2 s) from a fresh consumer.
 */
export async function workPartition(work: PartitionWork): Promise<void> {
  const { channel, partition, signal, wakeups } = work;
  const stream = channel.streamFor(partition);
  wakeups.follow(stream, signal);
  let outageMs = 0;
  while (!signal.aborted) {
    try {
      const consumer = await channel.consume(work.group, partition, { batchSize: work.batchSize });
      let cursorAt = consumer.cursor.currentOffset;
      for (;;) {
        if (signal.aborted) return;
        const seen = wakeups.mark(stream);
        const batch = await consumer.poll();
        if (batch.length === 0) {
          await wakeups.wait(stream, seen, work.pollMs, signal);
          continue;
        }
        for (const envelope of batch) {
          if (signal.aborted) return;
          cursorAt = await processFenced(work, envelope, consumer.cursor.cursorKey, cursorAt);
          outageMs = 0;
        }
      }
    } catch (error) {
      if (!isOutage(error) || signal.aborted) throw error;
      outageMs = Math.min(2_000, Math.max(100, outageMs * 2));
      await sleep(outageMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

// TODO(#12 EffectTx): replaced by consumer.processOnce(envelope, handler, { conditions: [fence] }).
async function processFenced(work: PartitionWork, envelope: ChannelEnvelope, cursorKey: string, at: number): Promise<number> {
  const effects: WriteOp[] = [];
  await work.handler(envelope, { cas: (key, expected, next) => void effects.push({ op: 'cas', key, expected, next }) });
  try {
    await work.channel.store.commit([work.fence, { op: 'cas', key: cursorKey, expected: at, next: envelope.offset + 1 }, ...effects]);
  } catch (error) {
    // Op 0 is the lease check and op 1 the cursor: either failing means another member owns the partition now.
    if (error instanceof CommitConflictError && error.index < 2) throw new LeaseLostError(work.group, work.partition, work.fence.equals, { cause: error });
    throw error;
  }
  return envelope.offset + 1;
}
