import type { ConversationPhase } from '@liminal/durability';

/** Lifecycle of a conversation: created -> active -> completing -> closed, or failed (the journal records it). */
export type { ConversationPhase };

/** Why a conversation failed. */
export type FailureReason =
  /** Someone sent `fail`. */
  | 'requested'
  /** `timeoutMs` passed before the conversation closed. */
  | 'timeout'
  /** A participant crashed under the `fail` policy. */
  | 'participantCrashed'
  /** A participant crashed under `routeToNext` and no live participant was left. */
  | 'noParticipantLeft'
  /** A participant crashed under `compensate`; the registered compensations ran. */
  | 'compensated'
  /** Durable mode could not record a step (store error, fenced writer, ...). */
  | 'journalFailed';

export const failureReasons: readonly FailureReason[] = ['requested', 'timeout', 'participantCrashed', 'noParticipantLeft', 'compensated', 'journalFailed'];

/** The lifecycle events and the phase each one asks for. */
export const phaseEvents = {
  activate: 'active',
  beginCompleting: 'completing',
  close: 'closed',
  fail: 'failed',
} as const satisfies Record<string, ConversationPhase>;

export type PhaseEventType = keyof typeof phaseEvents;

export type PhaseChange =
  | { readonly kind: 'moved' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected'; readonly from: ConversationPhase; readonly to: ConversationPhase };

/** The one transition table: `conversationMachine` builds each phase's lifecycle events from it (see `lifecycle`). */
const legalMoves: Record<ConversationPhase, readonly ConversationPhase[]> = {
  created: ['active', 'failed'],
  active: ['completing', 'failed'],
  completing: ['closed', 'failed'],
  closed: [],
  failed: [],
};

/**
 * The lifecycle rule: asking for the phase you are in is a no-op (so a
 * retried `close` or `fail` is harmless), a legal step moves, anything else
 * is rejected and the phase stays where it is. `closed` is final, so even
 * `fail` is rejected there.
 */
export function phaseChange(from: ConversationPhase, to: ConversationPhase): PhaseChange {
  if (from === to) return { kind: 'unchanged' };
  if (legalMoves[from].includes(to)) return { kind: 'moved' };
  return { kind: 'rejected', from, to };
}
