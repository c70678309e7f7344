import type { ConversationLogEntry, ConversationMode, CrashPolicy, ParticipantStatus } from './conversationTypes.js';
import type { ConversationPhase, FailureReason } from './phases.js';

/** What `getState()` shows: a copy, safe to keep. */
export interface ConversationState {
  readonly id: string;
  readonly phase: ConversationPhase;
  readonly mode: ConversationMode;
  readonly onCrash: CrashPolicy;
  readonly participants: readonly ParticipantStatus[];
  readonly log: readonly ConversationLogEntry[];
  readonly failure: { readonly reason: FailureReason; readonly cause?: unknown } | undefined;
  /** Messages accepted and not yet finished by a participant. */
  readonly inFlight: number;
}

export interface ParticipantExit {
  readonly participant: string;
  readonly exitedAt: number;
}
