import type { SnapshotFrom } from 'xstate';
import type { conversationMachine } from '../conversationMachine.js';
import type { ConversationPhase } from '../phases.js';

/**
 * The phase a conversation's snapshot reports: its state, or for a
 * compensating conversation the phase it compensates in (still live, about
 * to fail), so `compensating` never shows in `getState().phase` or the journal.
 */
export function phaseOf({ value }: Pick<SnapshotFrom<typeof conversationMachine>, 'value'>): ConversationPhase {
  return typeof value === 'string' ? value : value.compensating;
}
