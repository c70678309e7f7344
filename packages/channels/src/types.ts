import type { OverflowPolicy } from './internal/Inbox.js';
import type { Predicate } from './Predicate.js';

export type { OverflowPolicy } from './internal/Inbox.js';

/** A JSON Schema document (any draft ajv's default build accepts, draft-07 by default). */
export type JsonSchema = Record<string, unknown> | boolean;

export type ChannelMode = 'ephemeral' | 'durable';

/** How often a channel actor may crash and be restarted before the channel is declared failed. */
export interface RestartPolicy {
  /** Restarts allowed within `withinMs`; one more crash fails the channel. */
  readonly maxRestarts: number;
  readonly withinMs: number;
}

export interface ChannelConfig {
  readonly name: string;
  readonly mode: ChannelMode;
  /** Every published message must validate; omitted fields with a `default` are filled in. */
  readonly schema?: JsonSchema;
  /** Number of partitions (default 1); a publish `key` always maps to the same one. */
  readonly partitions?: number;
  /** Overrides the registry's restart policy for this channel. */
  readonly restart?: RestartPolicy;
  /** How long a message waits for its `causationId` before it is delivered flagged `orphaned`. */
  readonly causalTimeoutMs?: number;
}

export interface PublishOptions {
  /** Partition key: messages with one key go to one partition. */
  readonly key?: string;
  /** A second publish with the same key is acknowledged without being stored or delivered again. */
  readonly idempotencyKey?: string;
  /** The message this one was caused by; delivery waits until that one has been delivered. */
  readonly causationId?: string;
  /** Chosen by the publisher so another message can name it as its cause before it is published; default `newMessageId()`, or `messageIdFor(channel, idempotencyKey)` for an idempotent publish (@liminal/durability). */
  readonly messageId?: string;
  /** W3C traceparent of the publisher's span; the delivery carries a child of it. */
  readonly traceparent?: string;
  /**
   * Durable channels only: store the message now, deliver it at this time
   * (epoch ms) to durable subscribers (`subscribeDurable`, `DurableChannel`
   * consumers); live `subscribe` handlers never get it.
   */
  readonly deliverAt?: number;
}

export interface PublishResult {
  readonly messageId: string;
  readonly partition: number;
  /** Position in the partition's durable stream; durable channels only, and not for a scheduled message (it has none until due). */
  readonly sequence?: number;
  /** Set for a scheduled publish: when it will be delivered (the first publish's time, for a duplicate). */
  readonly deliverAt?: number;
  /** Subscribers (a consumer group counts once) whose handler was started with this message. */
  readonly delivered: number;
  /** The message waits for its cause and will be delivered later (or as `orphaned`). */
  readonly held: boolean;
  /** An earlier publish had this idempotency key; this one stored and delivered nothing. */
  readonly duplicate: boolean;
}

/** What a handler receives. */
export interface Delivery<T = unknown> {
  readonly channel: string;
  readonly message: T;
  readonly messageId: string;
  readonly partition: number;
  readonly sequence?: number;
  readonly causationId?: string;
  /** Its cause was still undelivered when the causal timeout expired. */
  readonly orphaned: boolean;
  /** W3C traceparent of the publish span; continue the trace from it. */
  readonly traceparent: string;
  readonly publishedAt: number;
}

export type Handler<T = unknown> = (delivery: Delivery<T>) => void | Promise<void>;

/** Call to stop receiving; messages already waiting in the inbox are dropped and counted. */
export type Unsubscribe = () => void;

export interface InboxOptions {
  /** Only messages the predicate accepts are delivered. */
  readonly filter?: Predicate;
  /** Deliveries handled at once (default 1: one at a time, in order). */
  readonly capacity?: number;
  /** Deliveries waiting for a free slot before `overflow` applies (default 1024). */
  readonly buffer?: number;
  /** What a publish meets when the buffer is full (default `block`). */
  readonly overflow?: OverflowPolicy;
}

export interface SubscribeOptions<T = unknown> extends InboxOptions {
  /** A label for stats; default `sub-<n>`. */
  readonly name?: string;
  /** Called when the handler throws or rejects; the subscription stays. */
  readonly onError?: (error: unknown, delivery: Delivery<T>) => void;
}

export interface SubscriptionStats {
  readonly id: string;
  readonly kind: 'subscriber' | 'group';
  readonly inFlight: number;
  readonly depth: number;
  readonly accepted: number;
  readonly deferred: number;
  readonly blocked: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly started: number;
  readonly errors: number;
}

export interface ChannelStats {
  readonly published: number;
  readonly delivered: number;
  readonly deferred: number;
  readonly blocked: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly schemaRejected: number;
  readonly held: number;
  readonly orphaned: number;
  readonly duplicates: number;
  readonly restarts: number;
  readonly crashes: number;
  readonly handlerErrors: number;
  readonly reroutes: number;
  readonly undeliverable: number;
}

export type ChannelState = 'open' | 'closed' | 'failed';

export interface ChannelSummary {
  readonly name: string;
  readonly mode: ChannelMode;
  readonly state: ChannelState;
  /** Live subscriptions plus live consumer-group members. */
  readonly subscribers: number;
}
