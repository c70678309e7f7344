import { CommitConflictError, DecodeError, type DurableStore, type WriteOp } from '@liminal/store';
import { codec } from '../codec.js';
import type { DedupCache } from '../DedupCache.js';
import { storeKey, storeKeyPrefix } from '../storeKey.js';
import { isAmbiguous } from './dedupEntry.js';
import type { PendingPublish } from './PartitionPublisher.js';
import { repeatOf, resultOf, type ScheduledPublished } from './publishResults.js';

/** A scheduled message whose time has come, to be moved into its partition. */
export interface DueEntry {
  /** Its schedule entry stream, deleted in the commit that appends it to the partition. */
  readonly stream: string;
  readonly messageId: string;
  readonly bytes: Uint8Array;
}

export interface DueScan {
  readonly due: readonly DueEntry[];
  /** The earliest `deliverAt` still waiting after `due` (at or before now when more were due than asked for). */
  readonly nextDueAt: number | undefined;
}

/** Digits of a name part: every safe integer fits, so the code-point order of entry names is (deliverAt, order) order. */
const WIDTH = 16;
const ENTRY_NAME = /^(\d{16})\/(\d{16})$/;
/** Each retry follows another publisher's schedule commit on this partition. */
const MAX_ROUNDS = 64;

/** The prefix of every schedule entry of one partition (also what a worker watches for new ones). */
export function schedulePrefix(channel: string, partition: number): string {
  return storeKeyPrefix('scheduled', channel, partition);
}

/**
 * The messages of one channel partition published with a `deliverAt` and not
 * yet due. Each is a one-entry stream `scheduled/<channel>/<p>/<deliverAt>/<order>`
 * holding the stored channel message, where `order` is the partition's
 * schedule counter (counter `scheduled/<channel>/<p>`), so listing the prefix
 * gives them in delivery order: by `deliverAt`, then in the order they were
 * scheduled. The partition stream itself only ever holds due messages, so
 * cursors, contiguous checkpoints and per-key order work on it unchanged; a
 * message is moved into it by `DurableChannel` (the append and the delete of
 * its entry in one commit, see `PartitionPublisher.promote`) once due.
 */
export class PartitionSchedule {
  readonly prefix: string;
  readonly #counter: string;
  /** The counter's last known value; a stale one only makes the commit conflict. */
  #next: number | undefined;

  constructor(
    readonly store: DurableStore,
    readonly channel: string,
    readonly partition: number,
    readonly dedup: DedupCache,
  ) {
    this.prefix = schedulePrefix(channel, partition);
    this.#counter = storeKey('scheduled', channel, partition);
  }

  /**
   * Stores `pending` to be delivered at `deliverAt`, with its receipt when it
   * is idempotent, in one commit that also takes the next schedule order. A
   * repeat of an idempotent publish returns the original result.
   */
  async add(pending: PendingPublish, deliverAt: number): Promise<ScheduledPublished> {
    const { messageId, bytes, idempotencyKey, nowMs } = pending;
    const result: ScheduledPublished = { messageId, partition: this.partition, deliverAt };
    for (let round = 0; ; round++) {
      const order = this.#next ?? (await this.store.readValue(this.#counter)) ?? 0;
      const stream = this.#entryName(deliverAt, order);
      const ops: WriteOp[] = [
        { op: 'cas', key: this.#counter, expected: order, next: order + 1 },
        { op: 'append', stream, payloads: [bytes], expectedSeq: 0 },
      ];
      if (idempotencyKey !== undefined) ops.push(this.dedup.receiptOp(idempotencyKey, codec.encode({ kind: 'scheduledPublishReceipt', ...result }), nowMs));
      try {
        await this.store.commit(ops);
        this.#next = order + 1;
        return result;
      } catch (error) {
        this.#next = undefined;
        if (round >= MAX_ROUNDS) throw error;
        if (isAmbiguous(error)) {
          if (await this.#landed(stream, order, pending, error)) return result;
          continue; // nothing of it was written: commit again
        }
        if (!(error instanceof CommitConflictError)) throw error;
        if (error.index === 0) continue; // another publisher took this order first
        if (error.index === 2 && idempotencyKey !== undefined) {
          const entry = await this.dedup.lookup(idempotencyKey);
          if (entry?.kind === 'completed') return repeatOf(idempotencyKey, resultOf(entry.receipt), true);
        }
        throw error;
      }
    }
  }

  /**
   * The entries due at `nowMs` (at most `limit`, earliest first) and when the
   * next one falls due. An entry another consumer moved meanwhile is left out.
   */
  async due(nowMs: number, limit: number): Promise<DueScan> {
    const names = await this.store.listStreams(this.prefix, { limit: limit + 1 });
    const dueNames: string[] = [];
    let nextDueAt: number | undefined;
    for (const name of names) {
      const deliverAt = this.#deliverAtOf(name);
      if (deliverAt > nowMs || dueNames.length === limit) {
        nextDueAt = deliverAt;
        break;
      }
      dueNames.push(name);
    }
    const read = await Promise.all(dueNames.map((stream) => this.store.readFrom(stream, 0, 1)));
    const due = dueNames.flatMap((stream, index): DueEntry[] => {
      const entry = read[index]![0];
      if (entry === undefined) return [];
      return [{ stream, messageId: codec.decodeAs(entry.payload, 'channelMessage').messageId, bytes: entry.payload }];
    });
    return { due, nextDueAt };
  }

  /**
   * Whether a commit with an unknown outcome stored our entry. The counter
   * not past `order` means nothing was written; our entry there means it
   * was. Neither (the entry already moved into the partition, or another
   * publisher's commit took `order`) cannot be told apart by reading: an
   * idempotent publish commits again (its receipt refuses a second copy),
   * any other passes the ambiguity on rather than guess.
   */
  async #landed(stream: string, order: number, pending: PendingPublish, ambiguity: unknown): Promise<boolean> {
    const counter = (await this.store.readValue(this.#counter)) ?? 0;
    if (counter <= order) return false;
    const [entry] = await this.store.readFrom(stream, 0, 1);
    if (entry !== undefined) return codec.decodeAs(entry.payload, 'channelMessage').messageId === pending.messageId;
    if (pending.idempotencyKey === undefined) throw ambiguity;
    return false;
  }

  #entryName(deliverAt: number, order: number): string {
    return `${this.prefix}${String(deliverAt).padStart(WIDTH, '0')}/${String(order).padStart(WIDTH, '0')}`;
  }

  #deliverAtOf(name: string): number {
    const match = ENTRY_NAME.exec(name.slice(this.prefix.length));
    if (match === null) throw new DecodeError(`not a schedule entry of partition ${this.partition} of channel ${JSON.stringify(this.channel)}: ${JSON.stringify(name)}`);
    return Number(match[1]);
  }
}
