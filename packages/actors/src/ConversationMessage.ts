import type { TraceContext } from '@liminal/durability';

/** A payload travelling under a conversation's trace context. */
export class ConversationMessage<P> {
  constructor(
    readonly payload: P,
    readonly traceContext: TraceContext,
  ) {}

  /** Transforms the payload; the message stays in the same trace and span. */
  map<Q>(transform: (payload: P) => Q): ConversationMessage<Q> {
    return new ConversationMessage(transform(this.payload), this.traceContext);
  }
}
