import type { ConsumerGroup, ConsumerGroupOptions } from './ConsumerGroup.js';
import type { DurableSubscribeOptions, DurableSubscription } from './DurableSubscription.js';
import type {
  ChannelMode,
  ChannelState,
  ChannelStats,
  Handler,
  JsonSchema,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  SubscriptionStats,
  Unsubscribe,
} from './types.js';

/** A named channel, from `ChannelRegistry.create` or `lookup`. */
export interface ChannelHandle<T = unknown> {
  readonly name: string;
  readonly mode: ChannelMode;
  readonly partitions: number;
  readonly state: ChannelState;
  /**
   * Validates, stores (durable mode) and fans the message out to every
   * matching subscriber and consumer group. Resolves once each of them has
   * started handling it or dropped it; a `block` or buffered delivery makes the
   * publisher wait here. Rejects with `SchemaMismatchError`, `BackpressureError`,
   * `NoConsumerAvailableError` (nothing stored or delivered), `ChannelClosedError`
   * or `DeliveryFailedError`.
   */
  publish(message: T, options?: PublishOptions): Promise<PublishResult>;
  subscribe(handler: Handler<T>, options?: SubscribeOptions<T>): Unsubscribe;
  /**
   * Durable channels only (`ConfigError` otherwise): joins the worker group
   * `group` and delivers the stored messages of its partitions — published by
   * any process — from the group's cursor, so a restarted subscriber resumes
   * where the group left off. Processes subscribing with the same group share
   * the partitions; see `DurableChannel.join` in @liminal/durability.
   */
  subscribeDurable(group: string, handler: Handler<T>, options?: DurableSubscribeOptions<T>): Promise<DurableSubscription>;
  /** The consumer group `name`, created on first use (later options are ignored). */
  group(name: string, options?: ConsumerGroupOptions): ConsumerGroup<T>;
  /** Replaces the schema; a field may be added only as optional (`IncompatibleSchemaError` otherwise). */
  evolveSchema(schema: JsonSchema): void;
  stats(): ChannelStats;
  subscriptions(): SubscriptionStats[];
  /** Sticky: later publish and subscribe throw `ChannelClosedError`; queued publishes reject with it. */
  close(): Promise<void>;
}
