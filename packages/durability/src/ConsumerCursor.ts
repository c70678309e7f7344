import { assertName, assertNonNegativeSafeInteger, type DurableStore } from '@liminal/store';
import { CursorRegressionError } from './errors.js';
import { storeKey } from './storeKey.js';

/** The stream holding partition `partition` of channel `channel`. */
export function partitionStreamFor(channel: string, partition: number): string {
  return storeKey('partition', channel, partition);
}

/** The counter holding `consumerId`'s offset in one channel partition. */
export function cursorKeyFor(consumerId: string, channel: string, partition: number): string {
  return storeKey('cursor', consumerId, channel, partition);
}

/**
 * A consumer's durable read position in one channel partition, kept in the
 * store counter `cursorKeyFor(consumerId, channel, partition)`. The offset is
 * the next entry to read (Kafka meaning), so a never-checkpointed cursor
 * (absent counter) is 0.
 */
export class ConsumerCursor {
  #offset: number;

  private constructor(
    readonly store: DurableStore,
    readonly consumerId: string,
    readonly channel: string,
    readonly partition: number,
    offset: number,
  ) {
    this.#offset = offset;
  }

  static async resume(store: DurableStore, consumerId: string, channel: string, partition: number): Promise<ConsumerCursor> {
    assertName('consumerId', consumerId);
    assertName('channel', channel);
    assertNonNegativeSafeInteger('partition', partition);
    const stored = await store.readValue(cursorKeyFor(consumerId, channel, partition));
    return new ConsumerCursor(store, consumerId, channel, partition, stored ?? 0);
  }

  /** The offset last read from or written to the store by this cursor. */
  get currentOffset(): number {
    return this.#offset;
  }

  get cursorKey(): string {
    return cursorKeyFor(this.consumerId, this.channel, this.partition);
  }

  /**
   * Persists `offset` with compare-and-swap from the offset this cursor holds.
   * A lower offset is a `CursorRegressionError`; if another instance moved the
   * stored offset meanwhile, the store's `CasConflictError` is surfaced and
   * this cursor is unchanged (`refresh` or resume again to continue).
   */
  async checkpoint(offset: number): Promise<void> {
    const op = this.advanceOp(offset);
    if (op === undefined) return;
    await this.store.cas(op.key, op.expected, op.next);
    this.#offset = offset;
  }

  /**
   * The `cas` op that moves the stored offset to `offset`, for a caller that
   * commits it together with other writes (then calls `advanced`);
   * `undefined` when the cursor is already there.
   */
  advanceOp(offset: number): { readonly op: 'cas'; readonly key: string; readonly expected: number; readonly next: number } | undefined {
    assertNonNegativeSafeInteger('offset', offset);
    if (offset < this.#offset) throw new CursorRegressionError(this.cursorKey, this.#offset, offset);
    if (offset === this.#offset) return undefined;
    return { op: 'cas', key: this.cursorKey, expected: this.#offset, next: offset };
  }

  /** Records that a committed `advanceOp(offset)` moved the stored offset. */
  advanced(offset: number): void {
    if (offset > this.#offset) this.#offset = offset;
  }

  /** Re-reads the stored offset (after another instance moved it); returns it. */
  async refresh(): Promise<number> {
    const stored = (await this.store.readValue(this.cursorKey)) ?? 0;
    if (stored > this.#offset) this.#offset = stored;
    return this.#offset;
  }
}
