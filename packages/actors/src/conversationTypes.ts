import type { DoneActorEvent, ErrorActorEvent, AnyActorLogic } from 'xstate';
import type { NonDeterminismError } from './errors.js';
import type { History } from './internal/History.js';
import type { Fifo } from './internal/Fifo.js';
import type { TurnJournal } from './internal/TurnJournal.js';
import type { Envelope, ParticipantSpec, TurnCompletedEvent } from './participant.js';
import type { ConversationPhase, FailureReason } from './phases.js';
import type { CompensationRegistration, CompensationRegistry, StepObserver, StepTimers } from './steps.js';

/** What a conversation does when a participant crashes. There is deliberately no default. */
export type CrashPolicy = 'fail' | 'routeToNext' | 'compensate';
export type ConversationMode = 'ephemeral' | 'durable';

export type ParticipantHealth = { readonly kind: 'alive' } | { readonly kind: 'dead'; readonly exitedAt: number };

export interface ParticipantStatus {
  readonly participant: string;
  readonly health: ParticipantHealth;
}

/** The conversation's context log, oldest first. */
export type ConversationLogEntry =
  /** A handle sent a message into the conversation. */
  | { readonly kind: 'sent'; readonly envelope: Envelope }
  /** The conversation received a reply from a participant (delivered to `receive`/`ask`). */
  | { readonly kind: 'received'; readonly envelope: Envelope }
  | { readonly kind: 'participantCrashed'; readonly participant: string; readonly policy: CrashPolicy; readonly error: unknown }
  /** A compensation ran and succeeded (after `attempts` tries). */
  | { readonly kind: 'compensated'; readonly participant: string; readonly messageId: string; readonly step: string; readonly stepIndex: number; readonly attempts: number }
  /**
   * A compensation did not certainly happen: it threw on every attempt
   * (`outcome: 'failed'`, `error` its last error; a string when read back from
   * the durable log), or its process stopped while it ran (`'interrupted'`,
   * `error` a `CompensationInterruptedError`). The remaining ones still ran.
   */
  | {
      readonly kind: 'compensationFailed';
      readonly participant: string;
      readonly messageId: string;
      readonly step: string;
      readonly stepIndex: number;
      readonly outcome: 'failed' | 'interrupted';
      readonly error: unknown;
    };

/**
 * The conversation's configuration, given as the machine's `input`
 * (`createActor(conversationMachine, { input })`).
 */
export interface ConversationInput {
  /** Random when absent. */
  readonly id?: string;
  readonly participants: readonly ParticipantSpec[];
  readonly onCrash: CrashPolicy;
  readonly mode: ConversationMode;
  /** Fails the conversation with reason `timeout` this long after it starts, unless it closed first. */
  readonly timeoutMs?: number;
  /** Where turns are recorded; ephemeral when absent. */
  readonly journal?: TurnJournal;
  /** Told about every participant step (ephemeral mode; a durable journal carries its own). */
  readonly onStep?: StepObserver;
  /** Handlers for steps declaring `compensate: '<name>'` (ephemeral mode; a durable journal carries its own). */
  readonly compensations?: CompensationRegistry;
  /** Tries of a throwing compensation before it is recorded failed (default 3; ephemeral mode). */
  readonly compensationAttempts?: number;
  /** The clock of `steps.sleep` (ephemeral mode; a durable journal carries its own). */
  readonly timers?: StepTimers;
}

/**
 * The stages of a turn, each run by one child actor: a durable journal admits
 * the message, the participant runs, the journal finishes it; an ephemeral turn only runs.
 */
export type TurnStage = 'admit' | 'run' | 'finish';

/** One message a participant is handling. */
export interface Turn {
  readonly seq: number;
  readonly participant: string;
  readonly envelope: Envelope;
  readonly stage: TurnStage;
  /** The child running `stage`: its events find the turn by this id. */
  readonly actorId: string;
}

export interface RegisteredCompensation extends CompensationRegistration {
  readonly participant: string;
}

export interface ConversationContext {
  readonly id: string;
  readonly onCrash: CrashPolicy;
  readonly mode: ConversationMode;
  readonly timeoutMs: number | undefined;
  readonly logic: Readonly<Record<string, AnyActorLogic>>;
  readonly journal: TurnJournal;
  readonly participants: readonly ParticipantStatus[];
  /** Oldest first; `getState().log` gives it as an array. */
  readonly log: History<ConversationLogEntry>;
  /** Accepted messages no participant has taken yet, in arrival order. */
  readonly queue: Fifo<Envelope>;
  /** At most one turn per participant: a participant handles one message at a time. */
  readonly turns: readonly Turn[];
  readonly nextTurnSeq: number;
  /** Index into `participants` where the round-robin search for the next participant starts. */
  readonly roundRobin: number;
  readonly compensations: readonly RegisteredCompensation[];
  readonly failure: { readonly reason: FailureReason; readonly cause?: unknown } | undefined;
  /** Out-of-order transitions that were refused, oldest first. */
  readonly rejections: readonly { readonly from: ConversationPhase; readonly to: ConversationPhase }[];
}

/**
 * What a durable conversation's journal says about it as a whole, in the
 * machine's terms: a reopened conversation starts from this instead of `created`.
 */
export interface RestoredConversation {
  readonly phase: ConversationPhase;
  readonly participants: readonly ParticipantStatus[];
  /** The latest entries (the journal's `recentLog`), oldest first. */
  readonly log: readonly ConversationLogEntry[];
  readonly failure: { readonly reason: FailureReason; readonly cause?: unknown } | undefined;
}

export type ConversationEvent =
  | { readonly type: 'activate' }
  | { readonly type: 'beginCompleting' }
  | { readonly type: 'close' }
  | { readonly type: 'fail'; readonly reason?: FailureReason; readonly cause?: unknown }
  | { readonly type: 'message'; readonly envelope: Envelope }
  | { readonly type: 'compensation.register'; readonly participant: string; readonly registration: CompensationRegistration }
  /** Durable mode, sent by `openConversation`: the log holds a compensation run, which the conversation resumes (or reads back) and fails with `compensated`. */
  | { readonly type: 'compensation.resume' }
  /** Durable mode, sent by `openConversation` right after start: the journal's phase, participants, log and failure. */
  | { readonly type: 'conversation.restore'; readonly restored: RestoredConversation }
  | { readonly type: 'conversation.timeout' }
  | TurnCompletedEvent
  | DoneActorEvent<unknown, string>
  | ErrorActorEvent<unknown, string>;

export type ConversationEmitted =
  | { readonly type: 'reply'; readonly envelope: Envelope }
  | { readonly type: 'participantExited'; readonly participant: string; readonly exitedAt: number }
  | { readonly type: 'transitionRejected'; readonly from: ConversationPhase; readonly to: ConversationPhase }
  /** A durable turn was refused by its journal (`NonDeterminismError`): nothing ran and the message did not move. */
  | { readonly type: 'turnRefused'; readonly messageId: string; readonly error: NonDeterminismError };
