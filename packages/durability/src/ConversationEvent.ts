/** Lifecycle of a conversation: created -> active -> completing -> closed, or failed. */
export type ConversationPhase = 'created' | 'active' | 'completing' | 'closed' | 'failed';

export const CONVERSATION_PHASES: readonly ConversationPhase[] = ['created', 'active', 'completing', 'closed', 'failed'];

/** Events about one message of the conversation (Part 1 of DESIGN.md). */
export type MessageEvent =
  /**
   * A message entered the conversation; `receivedAt` is caller-provided epoch
   * milliseconds. `payload` is the message itself, in a format its writer
   * (@liminal/actors) owns: kept until the message finishes, so a reopened
   * conversation can resume a message nobody delivers again.
   */
  | { readonly kind: 'messageReceived'; readonly messageId: string; readonly receivedAt: number; readonly payload?: Uint8Array }
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

/**
 * Events about the conversation as a whole, so a reopened conversation comes
 * back in the phase, with the participants, deadline and recent log it had.
 */
export type LifecycleEvent =
  /**
   * The first event of a conversation: the definition `version` it runs on,
   * when it was created and its absolute timeout deadline (epoch ms), which a
   * reopen keeps instead of restarting the timeout.
   */
  | { readonly kind: 'conversationCreated'; readonly version: string; readonly createdAt: number; readonly deadline?: number }
  /** The conversation moved to `phase` at `at` (epoch ms); a `failed` one says why (`failure`, and `cause` as text). */
  | {
      readonly kind: 'phaseChanged';
      readonly phase: ConversationPhase;
      readonly at: number;
      readonly failure?: string;
      readonly cause?: string;
    }
  | { readonly kind: 'participantExited'; readonly participant: string; readonly exitedAt: number }
  /** One entry of the conversation's log, in a format its writer (@liminal/actors) owns. */
  | { readonly kind: 'entryLogged'; readonly entry: Uint8Array };

/**
 * One state transition of a durable conversation. Events are the source of
 * truth: `ConversationState` is whatever replaying them yields.
 */
export type ConversationEvent = MessageEvent | LifecycleEvent;

export type ConversationEventKind = ConversationEvent['kind'];

export const CONVERSATION_EVENT_KINDS = [
  'messageReceived',
  'processingStarted',
  'stepCompleted',
  'processingFinished',
  'errorOccurred',
  'conversationCreated',
  'phaseChanged',
  'participantExited',
  'entryLogged',
] as const satisfies readonly ConversationEventKind[];
