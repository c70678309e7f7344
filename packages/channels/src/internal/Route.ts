import type { MessageFilter } from '../compilePredicate.js';
import type { Delivery, SubscriptionStats } from '../types.js';
import type { Inbox, InboxEvent } from './Inbox.js';

type Counts = { -readonly [K in Exclude<keyof SubscriptionStats, 'id' | 'kind' | 'inFlight' | 'depth'>]: number };

/** One destination of a channel's fan-out: a subscription or a consumer group. */
export abstract class Route {
  abstract readonly kind: 'subscriber' | 'group';
  abstract readonly inbox: Inbox<Delivery>;
  readonly counts: Counts = { accepted: 0, deferred: 0, blocked: 0, rejected: 0, dropped: 0, started: 0, errors: 0 };

  constructor(
    readonly id: string,
    readonly filter: MessageFilter | undefined,
  ) {}

  /** How many live receivers this route stands for, as shown by `list()`. */
  abstract get receivers(): number;

  count(event: InboxEvent): void {
    this.counts[event] += 1;
  }

  stats(): SubscriptionStats {
    return { id: this.id, kind: this.kind, inFlight: this.inbox.inFlight, depth: this.inbox.depth, ...this.counts };
  }
}
