import type { LifecycleEvent } from '@liminal/durability';
import type { Envelope } from '../participant.js';
import type { CompensationCause } from '../DurableSteps.js';
import type { CompensationRegistry, CompensationResult, StepContext, StepObserver, StepTimers } from '../steps.js';

/** Whether a delivered message runs (with its step context) or already finished (with the reply it recorded). */
export type Admission = { readonly kind: 'skip'; readonly reply: unknown } | { readonly kind: 'run'; readonly steps: StepContext };

/**
 * Where the conversation machine records the life of each turn. Ephemeral
 * mode records nothing (its turns run at once, with steps that are not
 * recorded); durable mode writes a `DurableConversation`.
 */
export type TurnJournal = EphemeralJournal | RecordingJournal;

export interface EphemeralJournal {
  readonly kind: 'ephemeral';
  readonly onStep: StepObserver | undefined;
  readonly compensations: CompensationRegistry | undefined;
  readonly compensationAttempts: number;
  readonly timers: StepTimers | undefined;
}

/**
 * Every write is awaited by whoever reports its outcome (a turn's reply waits
 * for `finish`; a failure waits for `flush`). The first write that fails
 * breaks the journal: every later write rejects with the same error, so no
 * outcome after a lost write is ever reported as recorded.
 */
export interface RecordingJournal {
  readonly kind: 'durable';
  /** Records the message received (with itself) before any participant takes it; queued like `crashed`. */
  received(envelope: Envelope): void;
  /** The messages the log received and did not finish, oldest first: what a reopened conversation resumes. */
  unfinished(): Envelope[];
  admit(envelope: Envelope, participant: string): Promise<Admission>;
  /** Records the reply (when not `undefined`) and the message finished; resolves with the reply once both landed. */
  finish(messageId: string, reply: unknown): Promise<unknown>;
  /** Queued behind earlier writes and ahead of later ones; a failure breaks the journal (see `failure`). */
  crashed(messageId: string, error: unknown): void;
  /** A conversation-wide event (phase, exit, log entry), queued like `crashed`. */
  lifecycle(event: LifecycleEvent): void;
  compensate(cause: CompensationCause | undefined): Promise<CompensationResult[]>;
  /** The journal has received the message (it may have finished), or its receipt is being written. */
  hasReceived(messageId: string): boolean;
  /** The log holds a compensation run (finished or not) that a reopened conversation must resume. */
  readonly compensationStarted: boolean;
  /** Resolves once every write issued so far has settled. */
  flush(): Promise<void>;
  /** The error of the first failed write, if any. */
  failure(): { readonly error: unknown } | undefined;
}

// The observer lives in the journal object, not as a function in the machine
// context: XState's `assign` would call a function-valued property as an assigner.
export const ephemeralJournal = (
  onStep: StepObserver | undefined,
  compensations: CompensationRegistry | undefined,
  compensationAttempts: number,
  timers: StepTimers | undefined,
): TurnJournal => ({ kind: 'ephemeral', onStep, compensations, compensationAttempts, timers });
