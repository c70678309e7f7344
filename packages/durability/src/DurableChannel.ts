import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  assertPositiveSafeInteger,
  ConfigError,
  InvalidArgumentError,
  type DurableStore,
} from '@liminal/store';
import { nanoid } from 'nanoid';
import { CheckpointDriver, type CheckpointPolicy } from './CheckpointDriver.js';
import { ChannelConsumer } from './ChannelConsumer.js';
import { codec, type ChannelMessage } from './codec.js';
import { ConsumerCursor, partitionStreamFor } from './ConsumerCursor.js';
import { DedupCache } from './DedupCache.js';
import { GroupMember } from './GroupMember.js';
import { PartitionPublisher } from './internal/PartitionPublisher.js';
import { PartitionSchedule, schedulePrefix } from './internal/PartitionSchedule.js';
import { repeatOf } from './internal/publishResults.js';
import { StreamLengths } from './internal/StreamLengths.js';
import type { JoinOptions } from './JoinOptions.js';
import { messageIdFor, newMessageId } from './messageId.js';
import { partitionFor } from './partitionFor.js';
import { storeKey } from './storeKey.js';
import { TraceContext } from './TraceContext.js';

export interface DurableChannelOptions {
  /** Number of partitions (a positive safe integer). Changing it re-routes keys. */
  readonly partitions: number;
}

export interface PublishOptions {
  /** Routing key: messages with the same key land in the same partition, in publish order. */
  readonly key: string;
  /** Publishing again with this key returns the first publish's result and appends nothing. */
  readonly idempotencyKey?: string;
  /**
   * The id to store the message under, for a publisher that must know it
   * before publishing (ephemeral-style channels over this one); default
   * `newMessageId()`. Not with `idempotencyKey`, whose message id is derived from it.
   */
  readonly messageId?: string;
  readonly causationId?: string;
  /** W3C `traceparent` header value. */
  readonly traceparent?: string;
  /** Epoch milliseconds recorded as `publishedAt` and as the dedup timestamp; default now. */
  readonly nowMs?: number;
  /** Only in `ScheduledPublishOptions`. */
  readonly deliverAt?: undefined;
}

/** A publish delivered later: see the package README, "Scheduled messages". */
export interface ScheduledPublishOptions extends Omit<PublishOptions, 'deliverAt'> {
  /**
   * Epoch milliseconds (a non-negative safe integer) before which no consumer
   * sees the message; one at or before now is due at once.
   */
  readonly deliverAt: number;
}

/** Where a message was stored. `sequence` is its offset in the partition. */
export interface PublishResult {
  readonly messageId: string;
  readonly partition: number;
  readonly sequence: number;
}

/** Where a scheduled message waits. It gets an offset when it is due and a consumer moves it into its partition. */
export interface ScheduledPublishResult {
  readonly messageId: string;
  readonly partition: number;
  readonly deliverAt: number;
}

export interface ConsumeOptions {
  /** Default `{kind: 'perMessage'}`. */
  readonly checkpoint?: CheckpointPolicy;
  /** Default number of envelopes per `poll` / per read of the async iterator; default 64. */
  readonly batchSize?: number;
  /**
   * Who this consumer claims messages as; default a random id per `consume`
   * call. Give a restarted process the same owner to let it take over its own
   * unfinished claims at once instead of after their lease; never give two
   * live consumers the same owner.
   */
  readonly owner?: string;
  /** How long a claim on a message holds against other consumers (ms); default 30,000. Size it above your slowest handler. */
  readonly leaseMs?: number;
  /** Epoch milliseconds for claims and receipts; default `Date.now`. */
  readonly clock?: () => number;
}

/** Default claim lease of `processOnce`: longer than most handlers, short enough that a crashed one is retried soon. */
export const DEFAULT_CLAIM_LEASE_MS = 30_000;


/**
 * A partitioned, append-only message channel on a `DurableStore`. Partition
 * `p` is the stream `partitionStreamFor(name, p)`; a consumer's cursor is the
 * counter `cursorKeyFor(consumerId, name, p)`. Idempotent publishes are
 * recorded in the `DedupCache` `publishDedup` (namespace
 * `storeKey('published', name)`) with the `PublishResult` as receipt, written
 * in the same commit as the message: the dedup window lasts until a
 * `DedupSweeper` over `publishDedup` removes the key.
 */
export class DurableChannel {
  readonly partitions: number;
  readonly publishDedup: DedupCache;
  readonly #lengths = new StreamLengths();
  readonly #publishers = new Map<number, PartitionPublisher>();
  readonly #schedules = new Map<number, PartitionSchedule>();
  /** Idempotent publishes of this instance not settled yet: a concurrent repeat waits for the first. */
  readonly #publishing = new Map<string, Promise<PublishResult | ScheduledPublishResult>>();

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

  /** The partition a routing key maps to: `partitionFor(key, partitions)`, the one mapping ephemeral channels use too. */
  partitionFor(key: string): number {
    return partitionFor(key, this.partitions);
  }

  streamFor(partition: number): string {
    this.#assertPartition(partition);
    return partitionStreamFor(this.name, partition);
  }

  /** The message id a publish with `idempotencyKey` gets: the same in every process, every time. */
  messageIdFor(idempotencyKey: string): string {
    return messageIdFor(this.name, idempotencyKey);
  }

  /**
   * Appends `payload` to the key's partition. Concurrent publishes to one
   * partition are grouped into one commit. With an `idempotencyKey`, the
   * message id is `messageIdFor(idempotencyKey)` and the message and its
   * receipt are committed together: a repeat (in any process, after any
   * crash or unknown outcome) returns the original `PublishResult` and
   * appends nothing.
   *
   * With `deliverAt`, the message is scheduled instead: stored at once, but
   * no consumer sees it before `deliverAt` (see the package README,
   * "Scheduled messages").
   */
  publish(payload: Uint8Array, options: ScheduledPublishOptions): Promise<ScheduledPublishResult>;
  publish(payload: Uint8Array, options: PublishOptions): Promise<PublishResult>;
  async publish(payload: Uint8Array, options: PublishOptions | ScheduledPublishOptions): Promise<PublishResult | ScheduledPublishResult> {
    assertPayload('payload', payload);
    const { key, idempotencyKey, messageId, causationId, traceparent, nowMs = Date.now(), deliverAt } = options ?? ({} as PublishOptions);
    const partition = this.partitionFor(key);
    if (idempotencyKey !== undefined) assertName('idempotencyKey', idempotencyKey);
    if (messageId !== undefined) {
      assertName('messageId', messageId);
      if (idempotencyKey !== undefined) throw new InvalidArgumentError('messageId', 'an idempotent publish takes the id derived from its idempotencyKey');
    }
    if (causationId !== undefined && typeof causationId !== 'string') throw new InvalidArgumentError('causationId', 'expected a string');
    // Parsed with the one traceparent parser: a header that channels or conversations would later refuse is refused here, before it is stored.
    if (traceparent !== undefined) TraceContext.parse(traceparent);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    if (deliverAt !== undefined) assertNonNegativeSafeInteger('deliverAt', deliverAt);
    const message: ChannelMessage = {
      kind: 'channelMessage',
      messageId: idempotencyKey === undefined ? (messageId ?? newMessageId()) : this.messageIdFor(idempotencyKey),
      key,
      ...(causationId === undefined ? {} : { causationId }),
      ...(traceparent === undefined ? {} : { traceparent }),
      publishedAt: nowMs,
      payload,
    };
    const pending = { messageId: message.messageId, bytes: codec.encode(message), nowMs, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) };
    const store = () => (deliverAt === undefined ? this.#publisherFor(partition).publish(pending) : this.#scheduleFor(partition).add(pending, deliverAt));
    if (idempotencyKey === undefined) return store();
    const earlier = this.#publishing.get(idempotencyKey);
    if (earlier !== undefined) return repeatOf(idempotencyKey, await earlier, deliverAt !== undefined);
    const publishing = store().finally(() => this.#publishing.delete(idempotencyKey));
    this.#publishing.set(idempotencyKey, publishing);
    return publishing;
  }

  /** The prefix of partition `partition`'s schedule entries (a worker watches it for newly scheduled messages). */
  schedulePrefixFor(partition: number): string {
    this.#assertPartition(partition);
    return schedulePrefix(this.name, partition);
  }

  /**
   * Moves the scheduled messages of `partition` that are due at `nowMs` (at
   * most `limit`, earliest first) into the partition, each append committed
   * with the delete of its schedule entry, so a message is moved once
   * however many consumers find it due. Returns when the next one is due
   * (`nowMs` or earlier when more than `limit` were due), `undefined` when
   * none is scheduled. Consumers call it before each read (`poll`).
   */
  async promoteDue(partition: number, nowMs: number, limit: number): Promise<number | undefined> {
    const { due, nextDueAt } = await this.#scheduleFor(partition).due(nowMs, limit);
    const publisher = this.#publisherFor(partition);
    await Promise.all(due.map(({ stream, messageId, bytes }) => publisher.promote({ messageId, bytes, nowMs, promotes: stream })));
    return nextDueAt;
  }

  /** A consumer of one partition, starting at `consumerId`'s stored cursor (0 if none). */
  async consume(consumerId: string, partition: number, options: ConsumeOptions = {}): Promise<ChannelConsumer> {
    if (typeof options !== 'object' || options === null) throw new ConfigError('consume options must be an object');
    const stream = this.streamFor(partition);
    const { batchSize = 64, owner = `consumer-${nanoid()}`, leaseMs = DEFAULT_CLAIM_LEASE_MS, clock = Date.now } = options;
    assertPositiveSafeInteger('batchSize', batchSize);
    assertName('owner', owner);
    assertPositiveSafeInteger('leaseMs', leaseMs);
    if (typeof clock !== 'function') throw new ConfigError('clock must be a function returning epoch milliseconds');
    const driver = new CheckpointDriver(options.checkpoint ?? { kind: 'perMessage' });
    const cursor = await ConsumerCursor.resume(this.store, consumerId, this.name, partition);
    const processed = new DedupCache(this.store, storeKey('consumed', this.name, consumerId));
    const source = { store: this.store, channel: this.name, partition, stream, promoteDue: (nowMs: number, limit: number) => this.promoteDue(partition, nowMs, limit) };
    return new ChannelConsumer(source, cursor, driver, batchSize, processed, { owner, leaseMs, clock, claimAhead: options.owner !== undefined });
  }

  /**
   * Joins the worker group `group` of this channel: the group's members share
   * its partitions (fair, sticky), each partition processed by one member at
   * a time from the group's cursor (consumer id `group`). See `GroupMember`.
   */
  join(group: string, options?: JoinOptions): Promise<GroupMember> {
    return GroupMember.join(this, group, options);
  }

  #publisherFor(partition: number): PartitionPublisher {
    let publisher = this.#publishers.get(partition);
    if (publisher === undefined) {
      publisher = new PartitionPublisher(this.store, partition, this.streamFor(partition), this.publishDedup, this.#lengths);
      this.#publishers.set(partition, publisher);
    }
    return publisher;
  }

  #scheduleFor(partition: number): PartitionSchedule {
    let schedule = this.#schedules.get(partition);
    if (schedule === undefined) {
      schedule = new PartitionSchedule(this.store, this.name, partition, this.publishDedup);
      this.#schedules.set(partition, schedule);
    }
    return schedule;
  }

  #assertPartition(partition: number): void {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new InvalidArgumentError('partition', `expected an integer in [0, ${this.partitions}), got ${String(partition)}`);
    }
  }
}

