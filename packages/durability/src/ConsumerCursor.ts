import { assertName, assertNonNegativeSafeInteger, type DurableStore } from '@liminal/store';
import { CursorRegressionError } from './errors.js';

/** The partition key of a channel partition: `channel:partition`. */
export function partitionKeyFor(channel: string, partition: number): string {
  return `${channel}:${partition}`;
}

/**
 * A consumer's durable read position in one partition, kept in the store
 * counter `consumerId:partitionKey`. The offset is the next entry to read
 * (Kafka meaning), so a never-checkpointed cursor (absent counter) is 0.
 */
export class ConsumerCursor {
  #offset: number;

  private constructor(
    readonly store: DurableStore,
    readonly consumerId: string,
    readonly partitionKey: string,
    offset: number,
  ) {
    this.#offset = offset;
  }

  static async resume(store: DurableStore, consumerId: string, partitionKey: string): Promise<ConsumerCursor> {
    assertName('consumerId', consumerId);
    assertName('partitionKey', partitionKey);
    const stored = await store.readValue(cursorKeyFor(consumerId, partitionKey));
    return new ConsumerCursor(store, consumerId, partitionKey, stored ?? 0);
  }

  /** The offset last read from or written to the store by this cursor. */
  get currentOffset(): number {
    return this.#offset;
  }

  get cursorKey(): string {
    return cursorKeyFor(this.consumerId, this.partitionKey);
  }

  /**
   * Persists `offset` with compare-and-swap from the offset this cursor holds.
   * A lower offset is a `CursorRegressionError`; if another instance moved the
   * stored offset meanwhile, the store's `CasConflictError` is surfaced and
   * this cursor is unchanged (resume again to continue).
   */
  async checkpoint(offset: number): Promise<void> {
    assertNonNegativeSafeInteger('offset', offset);
    if (offset < this.#offset) throw new CursorRegressionError(this.cursorKey, this.#offset, offset);
    await this.store.cas(this.cursorKey, this.#offset, offset);
    this.#offset = offset;
  }
}

export function cursorKeyFor(consumerId: string, partitionKey: string): string {
  return `${consumerId}:${partitionKey}`;
}
