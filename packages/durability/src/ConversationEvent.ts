/**
 * One state transition of a durable conversation. Events are the source of
 * truth: `ConversationState` is whatever replaying them yields.
 */
export type ConversationEvent =
  /** A message entered the conversation; `receivedAt` is caller-provided epoch milliseconds. */
  | { readonly kind: 'messageReceived'; readonly messageId: string; readonly receivedAt: number }
  | { readonly kind: 'processingStarted'; readonly messageId: string }
  /** Step `stepIndex` (zero-based) finished; `output` is its deterministic result, kept for reuse on resume. */
  | {
      readonly kind: 'stepCompleted';
      readonly messageId: string;
      readonly stepIndex: number;
      readonly output: Uint8Array;
    }
  | { readonly kind: 'processingFinished'; readonly messageId: string }
  | { readonly kind: 'errorOccurred'; readonly messageId: string; readonly error: string };

export type ConversationEventKind = ConversationEvent['kind'];
