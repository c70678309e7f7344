import type { ConversationContext, Turn } from '../conversationTypes.js';
import { NonDeterminismError } from '../errors.js';
import { compensationsId } from './compensationRun.js';
import { isAlive } from './participantHealth.js';
import { turnOf } from './turns.js';

/** What a crash of `actorId` leads to, decided from the context alone so guards and actions agree. */
export type CrashOutcome =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'journalFailed' }
  | { readonly kind: 'fail'; readonly turn: Turn }
  | { readonly kind: 'reroute'; readonly turn: Turn }
  | { readonly kind: 'noParticipantLeft'; readonly turn: Turn }
  | { readonly kind: 'compensate'; readonly turn: Turn }
  /** The journal refused the turn's replay (NonDeterminismError): nothing ran, nothing moves. */
  | { readonly kind: 'refused'; readonly turn: Turn };

export function crashOutcome(context: ConversationContext, actorId: string, error: unknown): CrashOutcome {
  // Only a durable compensation run can fail (an ephemeral one never throws): its log write failed.
  if (actorId === compensationsId) return { kind: 'journalFailed' };
  if (context.compensating) return { kind: 'ignore' };
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
