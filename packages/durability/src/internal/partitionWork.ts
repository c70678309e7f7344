import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError, type CheckOp } from '@liminal/store';
import type { ChannelConsumer, ChannelEnvelope, MessageHandler } from '../ChannelConsumer.js';
import type { Clock } from '../Clock.js';
import type { DurableChannel } from '../DurableChannel.js';
import { ClaimLostError, ConditionFailedError, LeaseLostError, MessageFailedError } from '../errors.js';
import type { Wakeups } from './Wakeups.js';

/** One held partition's work: what `workPartition` needs from its member. */
export interface PartitionWork {
  readonly channel: DurableChannel;
  readonly group: string;
  readonly partition: number;
  /** The lease check every commit carries: `{op: 'check', key: epoch(p), equals: heldEpoch}`. */
  readonly fence: CheckOp;
  readonly handler: MessageHandler;
  /** Owner of this member's message claims (one per incarnation) and their lease: the group's lease. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Epoch time of claims and of scheduled messages falling due (`JoinOptions.wallClock`). */
  readonly clock: Clock;
  readonly wakeups: Wakeups;
  readonly batchSize: number;
  /** Most envelopes of one read processed and committed together (`ChannelConsumer.processBatch`). */
  readonly messagesPerCommit: number;
  readonly pollMs: number;
  /** Stops the work at the next batch boundary. */
  readonly signal: AbortSignal;
  /** Told of every failed attempt at a message, before its retry. */
  readonly onFailure: (error: MessageFailedError) => void;
}

/** Retry delays after a failed message: 100 ms doubling to 30 s, so a poison message costs little while it waits for a fix. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 30_000;

/** Store errors a member waits out (PostgreSQL restarting, a connection dropped) instead of failing. */
export function isOutage(error: unknown): boolean {
  // A handler's error caused by the store being down (a wrapped StoreUnavailableError) is the same outage.
  for (let at = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    if (at instanceof StoreUnavailableError) return true;
  }
  return false;
}

/**
 * Processes one partition from the group's cursor until `signal` aborts,
 * waking on the store's `watch` of the partition stream (`pollMs` as the
 * fallback). The envelopes of each read go through
 * `ChannelConsumer.processBatch`, `messagesPerCommit` at a time: one commit
 * per batch (the handlers' `EffectTx` writes, the receipts, the cursor
 * advance) also carries the lease check, so a member that lost the lease
 * (paused past it, say) writes nothing of the batch: `LeaseLostError`. The
 * lease is the only exclusion needed, so batches take no message claims
 * (`exclusive`); a message a previous holder left claimed is found at the
 * commit and goes through `processOnce`, which waits its claim out. Store outages are
 * waited out (100 ms doubling to 2 s) from a fresh consumer.
 *
 * Message claims (taken on that `processOnce` path) last one group lease: a
 * member that died inside a handler left a claim that has expired by the
 * time the group declares it dead, so its successor does not wait for it.
 *
 * A message that fails (the handler throws, an effect conflicts, the entry
 * does not decode) wrote nothing (the batch's messages before it are
 * committed without it): it is reported through `onFailure` and
 * retried from the cursor with backoff, while the member keeps the lease.
 * Stopping the partition instead would hold it hostage (the member still
 * heartbeats, so nobody takes it over); handing it over would pass a poison
 * message from member to member.
 */
export async function workPartition(work: PartitionWork): Promise<void> {
  const { channel, partition, signal, wakeups, clock } = work;
  const stream = channel.streamFor(partition);
  const schedule = channel.schedulePrefixFor(partition);
  wakeups.follow(stream, signal);
  // A message scheduled on this partition (by any process) may fall due before the one this worker waits for.
  wakeups.follow(schedule, signal, [stream, schedule]);
  let outageMs = 0;
  let failures = 0;
  while (!signal.aborted) {
    let current: number | undefined;
    try {
      const consumer = await channel.consume(work.group, partition, { batchSize: work.batchSize, owner: work.owner, leaseMs: work.leaseMs, clock: () => clock.now() });
      const scans = new ScheduleScans(work, consumer, schedule);
      try {
        for (;;) {
          if (signal.aborted) return;
          const seen = wakeups.mark(stream);
          const batch = await consumer.poll(work.batchSize, { promoteDue: scans.due() });
          if (batch.length === 0) {
            await waitIdle(work, stream, seen, consumer.nextDueAt);
            continue;
          }
          let rewound = false;
          for (let from = 0; from < batch.length; from += work.messagesPerCommit) {
            if (signal.aborted) return;
            const run = batch.slice(from, from + work.messagesPerCommit);
            current = run[0]!.offset;
            const claimedUntil = await processFenced(work, consumer, run).catch((error: unknown) => {
              current = consumer.position; // where the batch failed: processBatch rewinds to the failed message
              throw error;
            });
            current = undefined;
            outageMs = 0;
            failures = 0;
            if (claimedUntil !== undefined) {
              // Claimed by a member that lost the partition: wait for its claim to expire, then read from here again.
              await sleep(Math.min(work.leaseMs, Math.max(10, claimedUntil - clock.now())), undefined, { signal }).catch(() => undefined);
              rewound = true;
              break;
            }
          }
          // A short batch was all there was at the read: unless a wake-up came since, reading again would find nothing.
          if (!rewound && batch.length < work.batchSize) await waitIdle(work, stream, seen, consumer.nextDueAt);
        }
      } finally {
        // Stopping, revoked or failing: hand the message claimed ahead (if any) to whoever works the partition next.
        await consumer.releaseClaims();
      }
    } catch (error) {
      // A lost lease is reported even while stopping: the zombie's listeners must hear that its work was refused.
      if (error instanceof LeaseLostError) throw error;
      if (signal.aborted) return;
      if (isOutage(error)) {
        outageMs = Math.min(2_000, Math.max(100, outageMs * 2));
        await sleep(outageMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      failures++;
      const retryInMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 20));
      work.onFailure(new MessageFailedError(work.group, partition, current, failures, retryInMs, { cause: error }));
      await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/**
 * When a poll scans the partition's schedule (one store read): at the first
 * poll, after a wake-up of the schedule, once the next scheduled message is
 * due, and at least every `pollMs` (a NOTIFY lost only delays). Other polls
 * read the partition alone.
 */
class ScheduleScans {
  #seen: number | undefined;
  #nextScanAt = 0;

  constructor(
    private readonly work: PartitionWork,
    private readonly consumer: ChannelConsumer,
    private readonly schedule: string,
  ) {}

  /** Whether the poll about to run scans; if so, counts it as done. */
  due(): boolean {
    const generation = this.work.wakeups.mark(this.schedule);
    const now = this.work.clock.now();
    const { nextDueAt } = this.consumer;
    if (generation === this.#seen && now < this.#nextScanAt && (nextDueAt === undefined || nextDueAt > now)) return false;
    this.#seen = generation;
    this.#nextScanAt = now + this.work.pollMs;
    return true;
  }
}

/**
 * Waits, caught up, for a wake-up of the partition (an append, a newly
 * scheduled message), for the next scheduled message to fall due (a timer on
 * the work's clock), or `pollMs`, whichever comes first.
 */
async function waitIdle(work: PartitionWork, stream: string, seen: number, nextDueAt: number | undefined): Promise<void> {
  const { clock, wakeups } = work;
  if (nextDueAt === undefined) return wakeups.wait(stream, seen, work.pollMs, work.signal);
  const delay = nextDueAt - clock.now();
  if (delay <= 0) return;
  const timer = clock.setTimeout(() => wakeups.notify(stream), delay);
  try {
    await wakeups.wait(stream, seen, work.pollMs, work.signal);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** Processes a run of envelopes; returns when the claim of another owner expires if one was held (`processBatch` rewound). */
async function processFenced(work: PartitionWork, consumer: ChannelConsumer, envelopes: readonly ChannelEnvelope[]): Promise<number | undefined> {
  try {
    // Exclusive: the lease check keeps every other member out, so a batch takes no message claims.
    const outcome = (await consumer.processBatch(envelopes, work.handler, { conditions: [work.fence], exclusive: true })).at(-1);
    return outcome?.kind === 'inFlight' ? outcome.expiresAtMs : undefined;
  } catch (error) {
    // The lease check failed, or another member took this message's claim over: either way it owns the partition now.
    if (error instanceof ConditionFailedError || error instanceof ClaimLostError) {
      throw new LeaseLostError(work.group, work.partition, work.fence.equals, { cause: error });
    }
    throw error;
  }
}
