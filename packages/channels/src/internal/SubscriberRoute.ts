import type { MessageFilter } from '../compilePredicate.js';
import type { Delivery, Handler, SubscribeOptions } from '../types.js';
import { Inbox, type InboxEvent, type InboxLimits } from './Inbox.js';
import { Route } from './Route.js';
import { traceDelivery } from './tracing.js';

/** A plain subscription: every matching message, handled by one handler. */
export class SubscriberRoute extends Route {
  readonly kind = 'subscriber';
  readonly inbox: Inbox<Delivery>;

  constructor(
    channel: string,
    id: string,
    filter: MessageFilter | undefined,
    limits: InboxLimits,
    handler: Handler<never>,
    onError: SubscribeOptions<never>['onError'],
    events: { inbox(event: InboxEvent): void; handlerFailed(): void },
  ) {
    super(id, filter);
    this.inbox = new Inbox<Delivery>(
      limits,
      async (delivery) => {
        try {
          await traceDelivery(channel, id, delivery.traceparent, async () => handler(delivery as Delivery<never>));
        } catch (error) {
          // A handler's failure is the subscriber's, not the channel's: count
          // it, report it, keep the subscription and the channel running.
          this.counts.errors += 1;
          events.handlerFailed();
          try {
            onError?.(error, delivery as Delivery<never>);
          } catch {
            // Nothing sensible is left to do with an error from the error callback.
          }
        }
      },
      (event) => {
        this.count(event);
        events.inbox(event);
      },
    );
  }

  get receivers(): number {
    return 1;
  }
}
