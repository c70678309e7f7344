import type { Envelope } from '../participant.js';
import type { RegisterCompensation, StepContext, StepObserver } from '../steps.js';

/** Whether a delivered message runs (with its step context) or was already processed. */
export type Admission = { readonly kind: 'skip' } | { readonly kind: 'run'; readonly steps: StepContext };

/**
 * Where the conversation machine records the life of each turn. Ephemeral
 * mode records nothing (its turns run at once, with steps that are not
 * recorded); durable mode writes a `DurableConversation`.
 */
export type TurnJournal = { readonly kind: 'ephemeral'; readonly onStep: StepObserver | undefined } | RecordingJournal;

/**
 * `finish` and `crashed` are fire-and-forget: the journal serializes its
 * writes and reports a failed write through the callback it was built with.
 */
export interface RecordingJournal {
  readonly kind: 'durable';
  admit(envelope: Envelope, register: RegisterCompensation): Promise<Admission>;
  finish(messageId: string): void;
  crashed(messageId: string, error: unknown): void;
  /** Resolves once every write issued so far has settled. */
  flush(): Promise<void>;
}

// The observer lives in the journal object, not as a function in the machine
// context: XState's `assign` would call a function-valued property as an assigner.
export const ephemeralJournal = (onStep: StepObserver | undefined): TurnJournal => ({ kind: 'ephemeral', onStep });
