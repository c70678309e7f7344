import type { AnyActorLogic } from 'xstate';
import type { ConversationMessage } from './ConversationMessage.js';
import type { StepContext } from './steps.js';

/** A message inside a conversation, with who sent it and what it answers. */
export interface Envelope<P = unknown> {
  readonly id: string;
  /** The handle's sender name, or the participant id for a reply. */
  readonly sender: string;
  readonly message: ConversationMessage<P>;
  /** For a reply: the id of the message it answers (what `ask` waits for). */
  readonly inReplyTo: string | undefined;
}

/**
 * The input of one participant turn. The conversation spawns the
 * participant's logic once per message it delivers (a turn) and links it: the
 * turn's output (a promise's value, a machine's `output`) is the reply,
 * `undefined` meaning no reply; a throw or an error is a crash. Callback logic
 * ends its turn with `sendBack(turnCompleted(input, reply))`.
 */
export interface ParticipantInput<P = unknown> {
  readonly conversationId: string;
  readonly participant: string;
  readonly turnId: string;
  readonly envelope: Envelope<P>;
  readonly payload: P;
  readonly steps: StepContext;
}

export interface ParticipantSpec {
  readonly id: string;
  readonly logic: AnyActorLogic;
}

/** Declares a participant: an id unique in its conversation and the XState logic that runs each turn. */
export function participant(id: string, logic: AnyActorLogic): ParticipantSpec {
  return { id, logic };
}

export interface TurnCompletedEvent {
  readonly type: 'liminal.turnCompleted';
  readonly turnId: string;
  readonly output: unknown;
}

/** The event a callback participant sends back to finish its turn (with an optional reply). */
export function turnCompleted(input: ParticipantInput, output?: unknown): TurnCompletedEvent {
  return { type: 'liminal.turnCompleted', turnId: input.turnId, output };
}
