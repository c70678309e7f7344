import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  assertPositiveSafeInteger,
  ConfigError,
  InvalidArgumentError,
  SequenceConflictError,
  type DurableStore,
} from '@liminal/store';
import { nanoid } from 'nanoid';
import { CheckpointDriver, type CheckpointPolicy } from './CheckpointDriver.js';
import { ChannelConsumer } from './ChannelConsumer.js';
import { codec, type ChannelMessage } from './codec.js';
import { ConsumerCursor, partitionStreamFor } from './ConsumerCursor.js';
import { DedupCache } from './DedupCache.js';
import { InFlightError } from './errors.js';
import { GroupMember } from './GroupMember.js';
import type { JoinOptions } from './JoinOptions.js';
import { keyHash } from './keyHash.js';
import { storeKey } from './storeKey.js';

export interface DurableChannelOptions {
  /** Number of partitions (a positive safe integer). Changing it re-routes keys. */
  readonly partitions: number;
}

export interface PublishOptions {
  /** Routing key: messages with the same key land in the same partition, in publish order. */
  readonly key: string;
  /** Publishing again with this key returns the first publish's result and appends nothing. */
  readonly idempotencyKey?: string;
  readonly causationId?: string;
  /** W3C `traceparent` header value. */
  readonly traceparent?: string;
  /** Epoch milliseconds recorded as `publishedAt` and as the dedup timestamp; default now. */
  readonly nowMs?: number;
}

/** Where a message was stored. `sequence` is its offset in the partition. */
export interface PublishResult {
  readonly messageId: string;
  readonly partition: number;
  readonly sequence: number;
}

export interface ConsumeOptions {
  /** Default `{kind: 'perMessage'}`. */
  readonly checkpoint?: CheckpointPolicy;
  /** Default number of envelopes per `poll` / per read of the async iterator; default 64. */
  readonly batchSize?: number;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * A partitioned, append-only message channel on a `DurableStore`. Partition
 * `p` is the stream `<name>:<p>`; a consumer's cursor is the counter
 * `<consumerId>:<name>:<p>`. Idempotent publishes are recorded in the
 * `DedupCache` `<name>:published` with the `PublishResult` as receipt: the
 * dedup window lasts until a `DedupSweeper` over `publishDedup` removes the key.
 */
export class DurableChannel {
  readonly partitions: number;
  readonly publishDedup: DedupCache;
  readonly #nextSeq = new Map<number, number>();

  constructor(
    readonly store: DurableStore,
    readonly name: string,
    options: DurableChannelOptions,
  ) {
    assertName('channel name', name);
    const partitions = options?.partitions;
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new ConfigError(`partitions must be a positive safe integer, got ${String(partitions)}`);
    }
    this.partitions = partitions;
    this.publishDedup = new DedupCache(store, storeKey('published', name));
  }

  /** The partition a routing key maps to: `keyHash(key) mod partitions`. */
  partitionFor(key: string): number {
    if (typeof key !== 'string') throw new InvalidArgumentError('key', 'expected a string');
    return Number(BigInt(`0x${keyHash(key)}`) % BigInt(this.partitions));
  }

  streamFor(partition: number): string {
    this.#assertPartition(partition);
    return partitionStreamFor(this.name, partition);
  }

  /**
   * Appends `payload` to the key's partition. With an `idempotencyKey`, a
   * repeat returns the original `PublishResult` without appending; a repeat
   * while the first is still in flight (or crashed between append and
   * receipt) is an `InFlightError`.
   */
  async publish(payload: Uint8Array, options: PublishOptions): Promise<PublishResult> {
    assertPayload('payload', payload);
    const { key, idempotencyKey, causationId, traceparent, nowMs = Date.now() } = options ?? ({} as PublishOptions);
    const partition = this.partitionFor(key);
    if (idempotencyKey !== undefined) assertName('idempotencyKey', idempotencyKey);
    if (causationId !== undefined && typeof causationId !== 'string') throw new InvalidArgumentError('causationId', 'expected a string');
    if (traceparent !== undefined && !TRACEPARENT.test(traceparent)) {
      throw new InvalidArgumentError('traceparent', 'expected a W3C traceparent (version-traceid-parentid-flags)');
    }
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const message: ChannelMessage = {
      kind: 'channelMessage',
      messageId: nanoid(),
      key,
      ...(causationId === undefined ? {} : { causationId }),
      ...(traceparent === undefined ? {} : { traceparent }),
      publishedAt: nowMs,
      payload,
    };
    const bytes = codec.encode(message);
    if (idempotencyKey === undefined) return this.#append(partition, message.messageId, bytes);

    const decision = await this.publishDedup.claimOrGet(idempotencyKey, nowMs);
    if (decision.kind === 'completed') {
      const { messageId, partition: original, sequence } = codec.decodeAs(decision.receipt, 'publishReceipt');
      return { messageId, partition: original, sequence };
    }
    if (decision.kind === 'inFlight') throw new InFlightError(this.publishDedup.namespace, idempotencyKey);
    let result: PublishResult;
    try {
      result = await this.#append(partition, message.messageId, bytes);
    } catch (error) {
      // Nothing was appended, so let a retry publish. If the release fails
      // too, the claim stays in flight until swept; the append error matters more.
      await this.publishDedup.releaseClaim(idempotencyKey, nowMs).catch(() => undefined);
      throw error;
    }
    await this.publishDedup.completeReceipt(idempotencyKey, codec.encode({ kind: 'publishReceipt', ...result }), nowMs);
    return result;
  }

  /** A consumer of one partition, starting at `consumerId`'s stored cursor (0 if none). */
  async consume(consumerId: string, partition: number, options: ConsumeOptions = {}): Promise<ChannelConsumer> {
    if (typeof options !== 'object' || options === null) throw new ConfigError('consume options must be an object');
    const stream = this.streamFor(partition);
    const batchSize = options.batchSize ?? 64;
    assertPositiveSafeInteger('batchSize', batchSize);
    const driver = new CheckpointDriver(options.checkpoint ?? { kind: 'perMessage' });
    const cursor = await ConsumerCursor.resume(this.store, consumerId, this.name, partition);
    return new ChannelConsumer({ store: this.store, channel: this.name, partition, stream }, cursor, driver, batchSize);
  }

  /**
   * Joins the worker group `group` of this channel: the group's members share
   * its partitions (fair, sticky), each partition processed by one member at
   * a time from the group's cursor (consumer id `group`). See `GroupMember`.
   */
  join(group: string, options?: JoinOptions): Promise<GroupMember> {
    return GroupMember.join(this, group, options);
  }

  /**
   * Many producers may append to one partition, so unlike a conversation a
   * sequence conflict here is not a fenced writer: retry at the length the
   * store reported. Each retry follows someone else's successful append.
   */
  async #append(partition: number, messageId: string, bytes: Uint8Array): Promise<PublishResult> {
    const stream = this.streamFor(partition);
    let expected = this.#nextSeq.get(partition) ?? (await this.store.streamLength(stream));
    for (;;) {
      try {
        const sequence = await this.store.append(stream, bytes, expected);
        this.#nextSeq.set(partition, sequence + 1);
        return { messageId, partition, sequence };
      } catch (error) {
        if (!(error instanceof SequenceConflictError)) throw error;
        expected = error.actual;
      }
    }
  }

  #assertPartition(partition: number): void {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new InvalidArgumentError('partition', `expected an integer in [0, ${this.partitions}), got ${String(partition)}`);
    }
  }
}
