import { codec, DurableChannel, type PublishReceipt, type ScheduledPublishReceipt } from '@liminal/durability';
import { LiminalError, type DurableStore } from '@liminal/store';
import type { Clock } from '../Clock.js';
import { decodeDurableMessage, encodeDurableMessage } from '../durableMessage.js';
import type { AppendOptions, ChannelRecord, LogWrite, MessageLog } from './MessageLog.js';

/** Errors that condemn one publish, not the channel: its actor must not crash over them. */
const PER_MESSAGE_ERRORS = new Set(['INVALID_ARGUMENT', 'DEDUP_COLLISION']);

/**
 * Durable channels write through `DurableChannel`: partition `p` is the stream
 * `<name>:<p>`, readable with `DurableChannel.consume` and
 * `decodeDurableMessage`. A publish without a key is keyed by its message id,
 * which spreads unkeyed messages over the partitions.
 */
export class DurableLog implements MessageLog {
  #channel: DurableChannel;

  constructor(
    private readonly store: DurableStore,
    private readonly name: string,
    private readonly partitions: number,
    private readonly clock: Clock,
  ) {
    this.#channel = new DurableChannel(store, name, { partitions });
  }

  /** The `DurableChannel` the log writes through (replaced on `recover`). */
  get channel(): DurableChannel {
    return this.#channel;
  }

  /** A fresh `DurableChannel` forgets cached stream positions a crash may have made stale. */
  async recover(): Promise<void> {
    this.#channel = new DurableChannel(this.store, this.name, { partitions: this.partitions });
  }

  async append(record: ChannelRecord, { key, idempotencyKey, deliverAt }: AppendOptions): Promise<LogWrite> {
    try {
      if (idempotencyKey !== undefined) {
        const prior = await this.#channel.publishDedup.lookup(idempotencyKey);
        const first = prior?.kind === 'completed' ? codec.decodeAs(prior.receipt, 'publishReceipt', 'scheduledPublishReceipt') : undefined;
        // A repeat of the other kind (scheduled, then not, or the reverse) goes on to publish, which refuses it.
        if (first !== undefined && (first.kind === 'scheduledPublishReceipt') === (deliverAt !== undefined)) return await this.#duplicate(first);
      }
      const options = {
        key: key ?? record.messageId,
        // One id per message: the log stores it under the id subscribers see (an idempotent publish's is derived from its key on both sides).
        ...(idempotencyKey === undefined ? { messageId: record.messageId } : { idempotencyKey }),
        ...(record.causationId === undefined ? {} : { causationId: record.causationId }),
        traceparent: record.traceparent,
        nowMs: this.clock.now(),
      };
      const payload = encodeDurableMessage(record);
      if (deliverAt !== undefined) {
        const scheduled = await this.#channel.publish(payload, { ...options, deliverAt });
        return { kind: 'scheduled', partition: scheduled.partition, deliverAt: scheduled.deliverAt };
      }
      const result = await this.#channel.publish(payload, options);
      return { kind: 'appended', partition: result.partition, sequence: result.sequence };
    } catch (error) {
      if (error instanceof LiminalError && PER_MESSAGE_ERRORS.has(error.code)) return { kind: 'refused', error };
      throw error;
    }
  }

  /**
   * The first publish's coordinates, with the message id its subscribers saw
   * (a scheduled one's is the log's own: its entry is not in the partition yet).
   */
  async #duplicate(stored: PublishReceipt | ScheduledPublishReceipt): Promise<LogWrite> {
    if (stored.kind === 'scheduledPublishReceipt') return { kind: 'duplicate', messageId: stored.messageId, partition: stored.partition, deliverAt: stored.deliverAt };
    const [entry] = await this.store.readFrom(this.#channel.streamFor(stored.partition), stored.sequence, 1);
    // The receipt names the log's own id; subscribers knew the message by ours.
    const messageId = entry === undefined ? stored.messageId : decodeDurableMessage(codec.decodeAs(entry.payload, 'channelMessage').payload).messageId;
    return { kind: 'duplicate', messageId, partition: stored.partition, sequence: stored.sequence };
  }
}
