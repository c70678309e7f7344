import type { ChannelEnvelope, DurableChannel, GroupMember, JoinOptions } from '@liminal/durability';
import { ConfigError } from '@liminal/store';
import { compilePredicate } from './compilePredicate.js';
import { decodeDurableMessage } from './durableMessage.js';
import type { Predicate } from './Predicate.js';
import type { Delivery, Handler } from './types.js';
import { assertHandler } from './internal/assertHandler.js';

/** `join` options of the worker group, plus what a subscriber needs. */
export interface DurableSubscribeOptions<T = unknown> extends JoinOptions {
  /** Only messages the predicate accepts reach the handler (the others are passed over, cursor and all). */
  readonly filter?: Predicate;
  /** Called when the handler throws or rejects; the message counts as handled and the subscription goes on. */
  readonly onError?: (error: unknown, delivery: Delivery<T>) => void;
}

/** A subscription of this process to a durable channel's stored messages, through a worker group. */
export interface DurableSubscription {
  /** The group member: `assignment()`, `on('assigned' | 'revoked', …)`. */
  readonly member: GroupMember;
  /** Stops delivering and leaves the group, handing its partitions to the group's other members. */
  close(): Promise<void>;
}

export interface DurableSubscriptionHooks {
  handlerFailed(): void;
}

/**
 * Joins `group` on the channel's `DurableChannel` and delivers every stored
 * message of the partitions this member holds, from the group's cursor:
 * messages published by any process, and after a restart only what the group
 * has not processed yet. Each process that subscribes with the same group
 * shares the partitions (competing consumers); another group gets its own copy.
 */
export async function subscribeDurable<T>(
  channel: DurableChannel,
  group: string,
  handler: Handler<T>,
  options: DurableSubscribeOptions<T>,
  hooks: DurableSubscriptionHooks,
): Promise<DurableSubscription> {
  assertHandler('handler', handler);
  const { filter, onError, ...join } = options ?? {};
  if (onError !== undefined && typeof onError !== 'function') throw new ConfigError('options.onError must be a function');
  const matches = filter === undefined ? undefined : compilePredicate(filter);
  const member = await channel.join(group, join);
  const stop = new AbortController();
  const running = member.run(
    async (envelope) => {
      const delivery = toDelivery<T>(channel.name, envelope);
      if (matches !== undefined && !matches(delivery.message)) return;
      try {
        await handler(delivery);
      } catch (error) {
        hooks.handlerFailed();
        try {
          onError?.(error, delivery);
        } catch {
          // The error callback's own failure must not stop the subscription.
        }
      }
    },
    { signal: stop.signal },
  );
  // `run` ends only on an error it cannot wait out (a corrupt membership log); the member leaves so the others take over.
  // A message that does not decode is retried with backoff by the member (a process warning each time).
  running.catch(() => member.leave().catch(() => undefined));
  return {
    member,
    close: async () => {
      stop.abort();
      await running.catch(() => undefined);
      await member.leave();
    },
  };
}

function toDelivery<T>(channel: string, envelope: ChannelEnvelope): Delivery<T> {
  const { messageId, message } = decodeDurableMessage(envelope.payload);
  return {
    channel,
    message: message as T,
    messageId,
    partition: envelope.partition,
    sequence: envelope.offset,
    ...(envelope.causationId === undefined ? {} : { causationId: envelope.causationId }),
    orphaned: false,
    traceparent: envelope.traceparent ?? '',
    publishedAt: envelope.publishedAt,
  };
}
