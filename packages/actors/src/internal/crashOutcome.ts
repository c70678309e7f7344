import type { ConversationContext, ConversationEvent, Turn } from '../conversationTypes.js';
import { NonDeterminismError } from '../errors.js';
import { isAlive } from './participantHealth.js';
import { turnOf } from './turns.js';

/** What a crash of a turn's child leads to, decided from the context alone so guards and actions agree. */
export type CrashOutcome =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'journalFailed' }
  | { readonly kind: 'fail'; readonly turn: Turn }
  | { readonly kind: 'reroute'; readonly turn: Turn }
  | { readonly kind: 'noParticipantLeft'; readonly turn: Turn }
  | { readonly kind: 'compensate'; readonly turn: Turn }
  /** The journal refused the turn's replay (NonDeterminismError): nothing ran, nothing moves. */
  | { readonly kind: 'refused'; readonly turn: Turn };

/** The crash an event reports: which child failed, and with what. */
export interface Crash {
  readonly actorId: string;
  readonly error: unknown;
}

export function crashOf(event: ConversationEvent): Crash | undefined {
  if (!event.type.startsWith('xstate.error.actor.') || !('actorId' in event)) return undefined;
  return { actorId: event.actorId, error: 'error' in event ? event.error : undefined };
}

export function crashOutcome(context: ConversationContext, crash: Crash | undefined): CrashOutcome {
  if (crash === undefined) return { kind: 'ignore' };
  const { actorId, error } = crash;
  const turn = turnOf(context, actorId);
  if (turn === undefined) return { kind: 'ignore' };
  if (error instanceof NonDeterminismError) return { kind: 'refused', turn };
  // A failed admit or finish is the journal's failure, not the participant's.
  if (turn.stage !== 'run') return { kind: 'journalFailed' };
  switch (context.onCrash) {
    case 'fail':
      return { kind: 'fail', turn };
    case 'compensate':
      return { kind: 'compensate', turn };
    case 'routeToNext': {
      const othersAlive = context.participants.some((status) => isAlive(status) && status.participant !== turn.participant);
      return othersAlive ? { kind: 'reroute', turn } : { kind: 'noParticipantLeft', turn };
    }
  }
}
