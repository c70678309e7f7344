import { ConversationMessage } from './ConversationMessage.js';
import { TraceContext } from '@liminal/durability';

/**
 * A conversation's span: its name and trace context. A child conversation
 * shares the trace id, gets its own span id and remembers its parent, so a
 * trace viewer shows nested conversations as one tree.
 */
export class Conversation {
  private constructor(
    readonly name: string,
    readonly traceContext: TraceContext,
    readonly parentTraceContext: TraceContext | undefined,
  ) {}

  /** A root conversation with a fresh trace. */
  static start(name: string): Conversation {
    return new Conversation(name, TraceContext.generate(), undefined);
  }

  /** Continues a trace that arrived from elsewhere (for example a `traceparent` header). */
  static continue(name: string, parent: TraceContext): Conversation {
    return new Conversation(name, parent.child(), parent);
  }

  spawnChild(name: string): Conversation {
    return new Conversation(name, this.traceContext.child(), this.traceContext);
  }

  /** Wraps a payload in this conversation's trace context. */
  message<P>(payload: P): ConversationMessage<P> {
    return new ConversationMessage(payload, this.traceContext);
  }
}
