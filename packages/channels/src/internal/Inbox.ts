import { Queue } from './Queue.js';

export type OverflowPolicy = 'block' | 'reject' | 'dropOldest';

/** What happened to one offered item, as counted in the inbox's statistics. */
export type InboxEvent = 'accepted' | 'deferred' | 'blocked' | 'rejected' | 'dropped' | 'started';

export type Offer =
  | { readonly kind: 'started' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'waiting'; readonly outcome: Promise<'started' | 'dropped'> };

export interface InboxLimits {
  /** Most items handled at once; a function for consumer groups, whose capacity follows their membership. */
  readonly capacity: number | (() => number);
  /** Most items waiting for a free slot before the overflow policy applies. */
  readonly buffer: number;
  readonly overflow: OverflowPolicy;
}

interface Waiting<I> {
  readonly item: I;
  readonly settle: (outcome: 'started' | 'dropped') => void;
}

/**
 * One subscriber's bounded mailbox. An offered item starts at once while fewer
 * than `capacity` are in flight (accepted), waits in the buffer while it has
 * room (deferred), and beyond that meets the overflow policy: `block` queues the
 * offer behind the buffer (the publisher awaits), `reject` refuses it, and
 * `dropOldest` evicts the oldest buffered item. Every outcome is reported to
 * `onEvent`, so nothing leaves the inbox uncounted.
 */
export class Inbox<I> {
  #inFlight = 0;
  readonly #buffer = new Queue<Waiting<I>>();
  // Offers parked by `block`: each belongs to a publisher that is awaiting, so a
  // publisher that awaits its publishes keeps this bounded.
  readonly #blocked = new Queue<Waiting<I>>();
  #closed = false;

  constructor(
    private readonly limits: InboxLimits,
    private readonly run: (item: I) => Promise<void>,
    private readonly onEvent: (event: InboxEvent) => void,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Items waiting to start: buffered plus blocked offers. */
  get depth(): number {
    return this.#buffer.length + this.#blocked.length;
  }

  /** True when an offer made now would be refused by the `reject` policy. */
  wouldReject(): boolean {
    return this.limits.overflow === 'reject' && this.#inFlight >= this.#capacity() && this.#buffer.length >= this.limits.buffer;
  }

  /** Counts a rejection decided before offering (the whole publish was refused). */
  refuse(): void {
    this.onEvent('rejected');
  }

  offer(item: I): Offer {
    if (this.#closed) return this.#count('dropped', { kind: 'dropped' });
    if (this.#inFlight < this.#capacity() && this.#buffer.length === 0 && this.#blocked.length === 0) {
      this.onEvent('accepted');
      this.#start(item);
      return { kind: 'started' };
    }
    if (this.#buffer.length < this.limits.buffer && this.#blocked.length === 0) {
      this.onEvent('deferred');
      return this.#wait(this.#buffer, item);
    }
    switch (this.limits.overflow) {
      case 'reject':
        return this.#count('rejected', { kind: 'rejected' });
      case 'block':
        this.onEvent('blocked');
        return this.#wait(this.#blocked, item);
      case 'dropOldest': {
        const oldest = this.#buffer.shift();
        if (oldest === undefined) return this.#count('dropped', { kind: 'dropped' }); // no buffer: the newcomer is the oldest waiter
        this.onEvent('dropped');
        oldest.settle('dropped');
        this.onEvent('deferred');
        return this.#wait(this.#buffer, item);
      }
    }
  }

  /** Starts waiting items while there is capacity; call when capacity grows. */
  pump(): void {
    while (this.#inFlight < this.#capacity()) {
      const next = this.#buffer.shift() ?? this.#blocked.shift();
      if (next === undefined) break;
      this.#start(next.item);
      next.settle('started');
    }
    while (this.#buffer.length < this.limits.buffer && this.#blocked.length > 0) {
      this.#buffer.push(this.#blocked.shift() as Waiting<I>);
    }
  }

  /** Refuses further offers and drops every waiting item (each one counted). */
  close(): void {
    this.#closed = true;
    for (const waiting of [...this.#buffer.drain(), ...this.#blocked.drain()]) {
      this.onEvent('dropped');
      waiting.settle('dropped');
    }
  }

  #capacity(): number {
    const { capacity } = this.limits;
    return typeof capacity === 'number' ? capacity : capacity();
  }

  #start(item: I): void {
    this.#inFlight += 1;
    this.onEvent('started');
    const done = () => {
      this.#inFlight -= 1;
      this.pump();
    };
    this.run(item).then(done, done);
  }

  #wait(queue: Queue<Waiting<I>>, item: I): Offer {
    const outcome = new Promise<'started' | 'dropped'>((settle) => queue.push({ item, settle }));
    return { kind: 'waiting', outcome };
  }

  #count<O extends Offer>(event: InboxEvent, offer: O): O {
    this.onEvent(event);
    return offer;
  }
}
