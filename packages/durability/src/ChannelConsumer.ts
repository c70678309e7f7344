import { assertPositiveSafeInteger, InvalidArgumentError, type DurableStore } from '@liminal/store';
import { CheckpointDriver } from './CheckpointDriver.js';
import { codec } from './codec.js';
import type { ConsumerCursor } from './ConsumerCursor.js';
import { DedupCache } from './DedupCache.js';
import { InFlightError } from './errors.js';
import { storeKey } from './storeKey.js';

/** One delivered channel message. `offset` is its position in the partition. */
export interface ChannelEnvelope {
  /** Unique per published message (nanoid); the key for consumer-side dedup. */
  readonly messageId: string;
  /** The id of the message that caused this one, if the publisher said. */
  readonly causationId?: string;
  /** W3C trace context of the publisher, if any. */
  readonly traceparent?: string;
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
  readonly payload: Uint8Array;
  /** Epoch milliseconds at publish. */
  readonly publishedAt: number;
}

/** What `processOnce` did with an envelope. */
export type ProcessOutcome =
  /** The handler ran now; its receipt is stored. */
  | { readonly kind: 'processed'; readonly receipt: Uint8Array }
  /** A previous run (maybe before a restart) already processed it; the handler did not run. */
  | { readonly kind: 'duplicate'; readonly receipt: Uint8Array };

/** A handler's optional return value is stored as the message's receipt. */
export type MessageHandler = (envelope: ChannelEnvelope) => Promise<Uint8Array | void> | Uint8Array | void;

const EMPTY_RECEIPT = new Uint8Array(0);

/** Parts of a `DurableChannel` a consumer needs (kept narrow to avoid an import cycle). */
export interface ConsumerSource {
  readonly store: DurableStore;
  readonly channel: string;
  readonly partition: number;
  readonly stream: string;
}

/**
 * Reads one partition for one consumer, from its stored cursor onwards.
 *
 * Delivery is at-least-once: whatever was delivered but not checkpointed is
 * delivered again after a restart. `processOnce` turns that into
 * effectively-once processing by recording each handled message id in a
 * `DedupCache` (namespace `<channel>:consumed:<consumerId>`) before
 * committing its offset. Run one instance per (consumerId, partition): a
 * second one is only noticed when its checkpoint fails with `CasConflictError`.
 */
export class ChannelConsumer implements AsyncIterable<ChannelEnvelope> {
  readonly driver: CheckpointDriver;
  /** The record of processed message ids; bound its size with a `DedupSweeper`. */
  readonly processed: DedupCache;
  #position: number;

  constructor(
    readonly source: ConsumerSource,
    readonly cursor: ConsumerCursor,
    driver: CheckpointDriver,
    readonly batchSize: number,
  ) {
    this.driver = driver;
    this.processed = new DedupCache(source.store, storeKey('consumed', source.channel, cursor.consumerId));
    this.#position = cursor.currentOffset;
  }

  get consumerId(): string {
    return this.cursor.consumerId;
  }

  get partition(): number {
    return this.source.partition;
  }

  /** The offset the next `poll` reads from (ahead of the cursor by what was polled and not committed). */
  get position(): number {
    return this.#position;
  }

  /**
   * Up to `max` envelopes from `position`; `[]` when caught up. A malformed
   * entry is a `DecodeError` and the position stays before it.
   */
  async poll(max: number = this.batchSize): Promise<ChannelEnvelope[]> {
    assertPositiveSafeInteger('max', max);
    const entries = await this.source.store.readFrom(this.source.stream, this.#position, max);
    const envelopes = entries.map(({ sequence, payload }) => {
      const { kind: _kind, ...message } = codec.decodeAs(payload, 'channelMessage');
      return { ...message, partition: this.source.partition, offset: sequence };
    });
    const last = envelopes.at(-1);
    if (last !== undefined) this.#position = last.offset + 1;
    return envelopes;
  }

  /** Marks `envelope` processed: the cursor moves past it as the checkpoint policy says. */
  async commit(envelope: ChannelEnvelope): Promise<void> {
    this.#assertOwn(envelope);
    await this.driver.recordProcessed(this.cursor, envelope.offset);
  }

  /** Checkpoints any committed offset the policy is still holding back. */
  async flush(): Promise<void> {
    await this.driver.flush(this.cursor);
  }

  /**
   * Runs `handler` unless this consumer already processed the message (in
   * this run or before a restart), then commits the envelope. If the handler
   * throws, the message is unclaimed, `position` rewinds to it so the next
   * `poll` delivers it again, and the error is rethrown.
   *
   * A claim left by a run that crashed inside the handler is taken over (the
   * handler runs again), which is why side effects that must not repeat
   * belong in the handler's own idempotent store or in its receipt.
   */
  async processOnce(envelope: ChannelEnvelope, handler: MessageHandler): Promise<ProcessOutcome> {
    this.#assertOwn(envelope);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'expected a function');
    const { messageId } = envelope;
    let decision = await this.processed.claimOrGet(messageId, Date.now());
    if (decision.kind === 'inFlight') {
      await this.processed.releaseClaim(messageId);
      decision = await this.processed.claimOrGet(messageId, Date.now());
    }
    if (decision.kind === 'completed') {
      await this.commit(envelope);
      return { kind: 'duplicate', receipt: decision.receipt };
    }
    if (decision.kind === 'inFlight') throw new InFlightError(this.processed.namespace, messageId);
    let receipt: Uint8Array;
    try {
      receipt = (await handler(envelope)) ?? EMPTY_RECEIPT;
    } catch (error) {
      this.#position = Math.min(this.#position, envelope.offset);
      await this.processed.releaseClaim(messageId);
      throw error;
    }
    await this.processed.completeReceipt(messageId, receipt);
    await this.commit(envelope);
    return { kind: 'processed', receipt };
  }

  /** Every envelope available now, polled `batchSize` at a time; ends when caught up. */
  async *[Symbol.asyncIterator](): AsyncIterator<ChannelEnvelope> {
    for (;;) {
      const batch = await this.poll();
      if (batch.length === 0) return;
      yield* batch;
    }
  }

  #assertOwn(envelope: ChannelEnvelope): void {
    if (envelope?.partition !== this.source.partition) {
      throw new InvalidArgumentError('envelope', `belongs to partition ${envelope?.partition}, not ${this.source.partition}`);
    }
  }
}
