import { CommitConflictError, SequenceConflictError, type DurableStore, type WriteOp } from '@liminal/store';
import { codec } from '../codec.js';
import type { DedupCache } from '../DedupCache.js';
import { isAmbiguous } from './dedupEntry.js';
import { repeatOf, resultOf, type Published } from './publishResults.js';
import { StreamLengths } from './StreamLengths.js';

/** One message waiting to be appended. */
export interface PendingPublish {
  readonly messageId: string;
  readonly bytes: Uint8Array;
  /** Set for an idempotent publish: its receipt is committed with the message. */
  readonly idempotencyKey?: string;
  readonly nowMs: number;
  /** Set for a scheduled message that is due: its schedule entry, deleted in the commit that appends it. */
  readonly promotes?: string;
}

export type { Published } from './publishResults.js';

interface Waiter {
  readonly pending: PendingPublish;
  /** `undefined` for a promotion another consumer made first. */
  readonly resolve: (result: Published | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/** Bounds one commit (and the ops a conflicting batch re-sends). */
const MAX_BATCH = 256;
/** Each retry follows another writer's successful commit to the partition (or a duplicate found). */
const MAX_ROUNDS = 64;

/**
 * Appends the publishes of one partition in groups: every publish made while
 * a commit is in flight joins the next commit, so n concurrent publishes cost
 * about n / batch commits instead of n(n+1)/2 conflicting appends. A commit
 * holds the messages and the receipts of the idempotent ones, so a message and
 * its receipt are stored together or not at all: there is no window in which a
 * crash leaves one without the other. A due scheduled message is moved in the
 * same way (`promote`): its append and the delete of its schedule entry are
 * one commit, so of the consumers that find it due, exactly one moves it.
 */
export class PartitionPublisher {
  readonly #queue: Waiter[] = [];
  #draining = false;

  constructor(
    readonly store: DurableStore,
    readonly partition: number,
    readonly stream: string,
    readonly dedup: DedupCache,
    readonly lengths: StreamLengths,
  ) {}

  publish(pending: PendingPublish): Promise<Published> {
    return this.#enqueue(pending) as Promise<Published>;
  }

  /** Appends a due scheduled message and deletes its entry; `false` when another consumer moved it first. */
  async promote(pending: PendingPublish & { readonly promotes: string }): Promise<boolean> {
    return (await this.#enqueue(pending)) !== undefined;
  }

  #enqueue(pending: PendingPublish): Promise<Published | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ pending, resolve, reject });
      if (!this.#draining) {
        this.#draining = true;
        // Publishes made in the same tick join the first commit.
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      try {
        await this.#commit(batch);
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
    this.#draining = false;
  }

  /** Commits `batch`, settling every waiter: stored, found as an earlier publish of its key, or failed. */
  async #commit(initial: Waiter[]): Promise<void> {
    let batch = initial;
    await this.lengths.load(this.store, [this.stream]);
    for (let round = 0; batch.length > 0; round++) {
      const expectedSeq = this.lengths.get(this.stream);
      const ops: WriteOp[] = [{ op: 'append', stream: this.stream, payloads: batch.map((w) => w.pending.bytes), expectedSeq }];
      const receiptOf = new Map<number, Waiter>();
      const promotionOf = new Map<number, Waiter>();
      batch.forEach((waiter) => {
        if (waiter.pending.promotes === undefined) return;
        promotionOf.set(ops.length, waiter);
        ops.push({ op: 'deleteStream', stream: waiter.pending.promotes, expectedLength: 1 });
      });
      batch.forEach((waiter, index) => {
        const { idempotencyKey, messageId, nowMs } = waiter.pending;
        if (idempotencyKey === undefined) return;
        const receipt = codec.encode({ kind: 'publishReceipt', messageId, partition: this.partition, sequence: expectedSeq + index });
        receiptOf.set(ops.length, waiter);
        // Only an absent key takes the receipt, so a key is published once.
        ops.push(this.dedup.receiptOp(idempotencyKey, receipt, nowMs));
      });
      try {
        await this.store.commit(ops);
        this.#stored(batch, expectedSeq);
        return;
      } catch (error) {
        if (round >= MAX_ROUNDS) throw error;
        if (isAmbiguous(error)) {
          // Resolved by reading, never by guessing: did our first message land where we put it?
          const [first] = await this.store.readFrom(this.stream, expectedSeq, 1);
          if (first !== undefined && codec.decodeAs(first.payload, 'channelMessage').messageId === batch[0]!.pending.messageId) {
            this.#stored(batch, expectedSeq);
            return;
          }
          continue; // nothing of it was written: commit again
        }
        if (!(error instanceof CommitConflictError)) throw error;
        if (error.index === 0 && error.cause instanceof SequenceConflictError) {
          this.lengths.set(this.stream, error.cause.actual);
          continue;
        }
        const promoted = promotionOf.get(error.index);
        if (promoted !== undefined) {
          // Another consumer moved that message into the partition first: commit the rest.
          promoted.resolve(undefined);
          batch = batch.filter((waiter) => waiter !== promoted);
          continue;
        }
        const duplicate = receiptOf.get(error.index);
        if (duplicate === undefined) throw error;
        // That key was published before: answer it with the original result and commit the rest.
        const key = duplicate.pending.idempotencyKey!;
        const entry = await this.dedup.lookup(key);
        if (entry?.kind === 'completed') {
          batch = batch.filter((waiter) => waiter !== duplicate);
          try {
            duplicate.resolve(repeatOf(key, resultOf(entry.receipt), false));
          } catch (refusal) {
            duplicate.reject(refusal);
          }
        }
      }
    }
  }

  #stored(batch: readonly Waiter[], expectedSeq: number): void {
    this.lengths.set(this.stream, expectedSeq + batch.length);
    batch.forEach((waiter, index) => waiter.resolve({ messageId: waiter.pending.messageId, partition: this.partition, sequence: expectedSeq + index }));
  }
}
