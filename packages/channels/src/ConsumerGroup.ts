import { NoConsumerAvailableError } from './errors.js';
import { assertHandler } from './internal/assertHandler.js';
import { Inbox, type InboxEvent } from './internal/Inbox.js';
import { Route } from './internal/Route.js';
import { traceDelivery } from './internal/tracing.js';
import type { MessageFilter } from './compilePredicate.js';
import type { Delivery, Handler, InboxOptions } from './types.js';

export interface ConsumerGroupOptions extends InboxOptions {
  /** Deliveries each member handles at once (default 1); the group's capacity grows with its members. */
  readonly capacityPerMember?: number;
}

export type UndeliverableListener<T> = (error: NoConsumerAvailableError, delivery: Delivery<T>) => void;

/** A set of competing handlers: each message goes to exactly one live member. */
export interface ConsumerGroup<T = unknown> {
  readonly name: string;
  /** Members that have joined, not left, and not crashed. */
  readonly liveMembers: number;
  /** Adds a member; returns its `leave` function. A member whose handler throws is removed (crashed). */
  join(handler: Handler<T>, options?: { readonly name?: string }): () => void;
  /** Told about every message that found no live member; also counted in stats and metrics. */
  onUndeliverable(listener: UndeliverableListener<T>): () => void;
}

export interface GroupEvents {
  inbox(event: InboxEvent): void;
  memberCrashed(group: string): void;
  rerouted(group: string): void;
  undeliverable(): void;
}

interface Member {
  readonly name: string;
  readonly handler: Handler<never>;
  inFlight: number;
}

/**
 * A consumer group is one route of the channel's fan-out with a dispatcher for
 * a handler: it picks the least-busy live member (round robin among equals). A
 * member that throws while handling a message has crashed: it is removed and
 * the same message goes to the next live member it has not reached yet.
 */
export class GroupRoute<T> extends Route implements ConsumerGroup<T> {
  readonly kind = 'group';
  readonly inbox: Inbox<Delivery>;
  readonly #members: Member[] = [];
  readonly #listeners = new Set<UndeliverableListener<T>>();
  #next = 0;
  #joined = 0;

  constructor(
    private readonly channel: string,
    readonly name: string,
    filter: MessageFilter | undefined,
    limits: { capacityPerMember: number; buffer: number; overflow: NonNullable<InboxOptions['overflow']> },
    private readonly events: GroupEvents,
  ) {
    super(`group:${name}`, filter);
    // Never zero: with no member left, queued messages must still be taken out
    // and reported undeliverable rather than wait forever.
    const capacity = () => Math.max(1, this.liveMembers * limits.capacityPerMember);
    this.inbox = new Inbox<Delivery>(
      { capacity, buffer: limits.buffer, overflow: limits.overflow },
      (delivery) => this.#dispatch(delivery),
      (event) => {
        this.count(event);
        events.inbox(event);
      },
    );
  }

  get liveMembers(): number {
    return this.#members.length;
  }

  get receivers(): number {
    return this.liveMembers;
  }

  join(handler: Handler<T>, options: { readonly name?: string } = {}): () => void {
    assertHandler('handler', handler);
    this.#joined += 1;
    const member: Member = { name: options.name ?? `member-${this.#joined}`, handler, inFlight: 0 };
    this.#members.push(member);
    this.inbox.pump();
    return () => this.#remove(member);
  }

  onUndeliverable(listener: UndeliverableListener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #dispatch(delivery: Delivery): Promise<void> {
    const tried = new Set<Member>();
    for (let member = this.#pick(tried); member !== undefined; member = this.#pick(tried)) {
      tried.add(member);
      member.inFlight += 1;
      try {
        await traceDelivery(this.channel, `${this.name}/${member.name}`, delivery.traceparent, async () => member.handler(delivery as Delivery<never>));
        return;
      } catch {
        this.counts.errors += 1;
        this.events.memberCrashed(this.name);
        this.#remove(member);
        if (this.#pick(tried) !== undefined) this.events.rerouted(this.name);
      } finally {
        member.inFlight -= 1;
      }
    }
    const error = new NoConsumerAvailableError(this.channel, this.name, delivery.messageId);
    this.events.undeliverable();
    for (const listener of this.#listeners) {
      try {
        listener(error, delivery as Delivery<T>);
      } catch {
        // A failing listener must not stop the others from hearing about the loss.
      }
    }
  }

  #pick(tried: ReadonlySet<Member>): Member | undefined {
    let best: Member | undefined;
    const count = this.#members.length;
    for (let i = 0; i < count; i += 1) {
      const member = this.#members[(this.#next + i) % count] as Member;
      if (!tried.has(member) && (best === undefined || member.inFlight < best.inFlight)) best = member;
    }
    if (best !== undefined) this.#next = (this.#members.indexOf(best) + 1) % count;
    return best;
  }

  #remove(member: Member): void {
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
  }
}
