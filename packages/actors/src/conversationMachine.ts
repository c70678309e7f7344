import { randomUUID } from 'node:crypto';
import {
  cancel,
  enqueueActions,
  fromPromise,
  setup,
  type ActorRefFrom,
  type AnyActorLogic,
  type AnyActorRef,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import { ConversationMessage } from './ConversationMessage.js';
import { ConfigError } from '@liminal/store';
import { assertConversationConfig } from './internal/assertConversationConfig.js';
import { Fifo } from './internal/Fifo.js';
import { History } from './internal/History.js';
import type { RestoredConversation } from './internal/conversationPersistence.js';
import { ephemeralJournal, type Admission, type RecordingJournal, type TurnJournal } from './internal/TurnJournal.js';
import { CompensationInterruptedError, NonDeterminismError } from './errors.js';
import type { Envelope, ParticipantInput, ParticipantSpec, TurnCompletedEvent } from './participant.js';
import { phaseChange, phaseEvents, type ConversationPhase, type FailureReason, type PhaseEventType } from './phases.js';
import {
  attemptCompensation,
  DEFAULT_COMPENSATION_ATTEMPTS,
  ephemeralSteps,
  type CompensationRegistration,
  type CompensationRegistry,
  type CompensationResult,
  type StepContext,
  type StepObserver,
  type StepTimers,
} from './steps.js';

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

interface Turn {
  readonly seq: number;
  readonly participant: string;
  readonly envelope: Envelope;
}

interface RegisteredCompensation extends CompensationRegistration {
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
  readonly compensating: boolean;
  readonly failure: { readonly reason: FailureReason; readonly cause?: unknown } | undefined;
  /** Out-of-order transitions that were refused, oldest first. */
  readonly rejections: readonly { readonly from: ConversationPhase; readonly to: ConversationPhase }[];
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

interface AdmissionInput {
  readonly journal: RecordingJournal;
  readonly envelope: Envelope;
  readonly participant: string;
}

interface FinishInput {
  readonly journal: RecordingJournal;
  readonly messageId: string;
  readonly reply: unknown;
}

const admissionId = (seq: number) => `admit:${seq}`;
const runId = (seq: number) => `run:${seq}`;
const finishId = (seq: number) => `finish:${seq}`;
const compensationsId = 'compensations';
const timeoutId = 'conversation.timeout';

/** Turn ids are `admit:<seq>` / `run:<seq>` / `finish:<seq>`; anything else is not a turn. */
function turnOf(context: ConversationContext, actorId: string): { turn: Turn; stage: 'admit' | 'run' | 'finish' } | undefined {
  const [stage, seq] = actorId.split(':');
  if (stage !== 'admit' && stage !== 'run' && stage !== 'finish') return undefined;
  const turn = context.turns.find((candidate) => String(candidate.seq) === seq);
  return turn === undefined ? undefined : { turn, stage };
}

const isAlive = (status: ParticipantStatus) => status.health.kind === 'alive';

/** The message is waiting in the queue or being handled. */
const isPending = (context: ConversationContext, messageId: string) =>
  context.turns.some((turn) => turn.envelope.id === messageId) || context.queue.some((envelope) => envelope.id === messageId);

/**
 * Hands queued messages to idle live participants, round-robin, keeping
 * arrival order: the head of the queue always goes first, so messages from
 * one sender are taken in the order they were sent.
 */
function dispatch(context: ConversationContext): { context: ConversationContext; started: Turn[] } {
  let { queue, turns, nextTurnSeq, roundRobin } = context;
  const started: Turn[] = [];
  // A compensating conversation is about to fail: it starts no new work.
  if (context.compensating) return { context, started };
  const count = context.participants.length;
  while (queue.length > 0) {
    let chosen: number | undefined;
    for (let offset = 0; offset < count; offset++) {
      const index = (roundRobin + offset) % count;
      const status = context.participants[index];
      if (status !== undefined && isAlive(status) && !turns.some((turn) => turn.participant === status.participant)) {
        chosen = index;
        break;
      }
    }
    if (chosen === undefined) break;
    // Shift only once a participant is free: shifting reverses the queue's
    // back list, and a result thrown away would be reversed again next time.
    const [envelope, rest] = queue.shift()!;
    const turn: Turn = { seq: nextTurnSeq, participant: context.participants[chosen]!.participant, envelope };
    queue = rest;
    turns = [...turns, turn];
    nextTurnSeq += 1;
    roundRobin = (chosen + 1) % count;
    started.push(turn);
  }
  return { context: { ...context, queue, turns, nextTurnSeq, roundRobin }, started };
}

function markDead(
  participants: readonly ParticipantStatus[],
  which: (participant: string) => boolean,
  exitedAt: number,
): { participants: ParticipantStatus[]; died: string[] } {
  const died: string[] = [];
  const next = participants.map((status) => {
    if (!isAlive(status) || !which(status.participant)) return status;
    died.push(status.participant);
    return { participant: status.participant, health: { kind: 'dead', exitedAt } } satisfies ParticipantStatus;
  });
  return { participants: next, died };
}

/** What a crash of `actorId` leads to, decided from the context alone so guards and actions agree. */
type CrashOutcome =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'journalFailed' }
  | { readonly kind: 'fail'; readonly turn: Turn }
  | { readonly kind: 'reroute'; readonly turn: Turn }
  | { readonly kind: 'noParticipantLeft'; readonly turn: Turn }
  | { readonly kind: 'compensate'; readonly turn: Turn }
  /** The journal refused the turn's replay (NonDeterminismError): nothing ran, nothing moves. */
  | { readonly kind: 'refused'; readonly turn: Turn };

function crashOutcome(context: ConversationContext, actorId: string, error: unknown): CrashOutcome {
  // Only a durable compensation run can fail (an ephemeral one never throws): its log write failed.
  if (actorId === compensationsId) return { kind: 'journalFailed' };
  if (context.compensating) return { kind: 'ignore' };
  const found = turnOf(context, actorId);
  if (found === undefined) return { kind: 'ignore' };
  if (error instanceof NonDeterminismError) return { kind: 'refused', turn: found.turn };
  if (found.stage !== 'run') return { kind: 'journalFailed' };
  const { turn } = found;
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

export const conversationMachine = setup({
  types: {
    input: {} as ConversationInput,
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    emitted: {} as ConversationEmitted,
  },
  actors: {
    admission: fromPromise<Admission, AdmissionInput>(({ input }) => input.journal.admit(input.envelope, input.participant)),
    finishing: fromPromise<unknown, FinishInput>(({ input }) => input.journal.finish(input.messageId, input.reply)),
    compensations: fromPromise<CompensationResult[], { run: () => Promise<CompensationResult[]> }>(({ input }) => input.run()),
  },
  guards: {
    crashFailsNow: ({ context, event }) => {
      if (!('actorId' in event) || !event.type.startsWith('xstate.error.actor.')) return false;
      const outcome = crashOutcome(context, event.actorId, 'error' in event ? event.error : undefined);
      return outcome.kind === 'fail' || outcome.kind === 'noParticipantLeft' || outcome.kind === 'journalFailed';
    },
    compensationsDone: ({ event }) => 'actorId' in event && event.actorId === compensationsId,
    restoresTo: ({ event }, { phase }: { phase: ConversationPhase }) => event.type === 'conversation.restore' && event.restored.phase === phase,
    /** A message the durable journal already received: a closing conversation still answers it. */
    isRedelivery: ({ context, event }) => event.type === 'message' && context.journal.kind === 'durable' && context.journal.hasReceived(event.envelope.id),
  },
  actions: {
    restore: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'conversation.restore') return;
      const { participants, log, failure } = event.restored;
      enqueue.assign({ participants, log: context.log.append(...log), failure });
    }),
    rejectTransition: enqueueActions(({ context, event, enqueue }, { from }: { from: ConversationPhase }) => {
      const to = targetPhase(event);
      const change = phaseChange(from, to);
      if (change.kind !== 'rejected') return;
      enqueue.assign({ rejections: [...context.rejections, { from, to }] });
      enqueue.emit({ type: 'transitionRejected', from, to });
    }),
    acceptMessage: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'message') return;
      const { envelope } = event;
      const { journal } = context;
      if (journal.kind === 'durable') {
        if (journal.hasReceived(envelope.id)) {
          // A redelivery (a re-sent ask, or a reopen resuming it): it is one
          // message, already in the log. One taken or waiting answers this
          // one too; otherwise admission replays it or answers it from the log.
          if (isPending(context, envelope.id)) return;
          startTurns(loose(enqueue), self, { ...context, queue: context.queue.push(envelope) });
          return;
        }
        // In the log before any participant takes it: a crash while it waits behind a busy participant does not lose it.
        enqueue(() => journal.received(envelope));
      }
      startTurns(loose(enqueue), self, { ...context, queue: context.queue.push(envelope), log: context.log.append({ kind: 'sent', envelope }) });
    }),
    registerCompensation: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'compensation.register' || context.compensating) return;
      const { participant, registration } = event;
      // A step replayed on a later attempt registers again; keep the first.
      const known = context.compensations.some(
        (existing) => existing.messageId === registration.messageId && existing.stepIndex === registration.stepIndex,
      );
      if (!known) enqueue.assign({ compensations: [...context.compensations, { ...registration, participant }] });
    }),
    completeTurn: enqueueActions(({ context, event, enqueue, self }) => {
      let actorId: string;
      let output: unknown;
      if (event.type === 'liminal.turnCompleted') {
        actorId = event.turnId;
        output = event.output;
      } else if ('output' in event && event.type.startsWith('xstate.done.actor.')) {
        actorId = event.actorId;
        output = event.output;
      } else {
        return;
      }
      const found = turnOf(context, actorId);
      if (found === undefined || (event.type === 'liminal.turnCompleted' && found.stage !== 'run')) return;
      const { turn, stage } = found;
      // A finished child stays in `children` until stopped; turns would pile up.
      enqueue.stopChild(actorId);
      const { journal } = context;
      if (stage === 'admit') {
        const admission = output as Admission;
        if (admission.kind === 'run') {
          spawnRun(loose(enqueue), context, turn, admission.steps);
          return;
        }
        // Finished before: answered with the reply it recorded, nothing runs.
        output = admission.reply;
      } else if (stage === 'run' && journal.kind === 'durable') {
        // The reply is released only once it and the message's end are in the log.
        const input: FinishInput = { journal, messageId: turn.envelope.id, reply: output };
        loose(enqueue).spawnChild('finishing', { id: finishId(turn.seq), input });
        return;
      }
      let log = context.log;
      if (output !== undefined) {
        const reply: Envelope = {
          id: `${turn.envelope.id}/reply`,
          sender: turn.participant,
          message: new ConversationMessage(output, turn.envelope.message.traceContext),
          inReplyTo: turn.envelope.id,
        };
        log = log.append({ kind: 'received', envelope: reply });
        enqueue.emit({ type: 'reply', envelope: reply });
      }
      startTurns(loose(enqueue), self, { ...context, log, turns: context.turns.filter((other) => other !== turn) });
    }),
    handleCrash: enqueueActions(({ context, event, enqueue, self }) => {
      if (!('actorId' in event) || !event.type.startsWith('xstate.error.actor.')) return;
      const error = 'error' in event ? event.error : undefined;
      const outcome = crashOutcome(context, event.actorId, error);
      if (outcome.kind === 'ignore') return;
      enqueue.stopChild(event.actorId);
      if (outcome.kind === 'journalFailed') {
        enqueue.assign({ failure: { reason: 'journalFailed', cause: error } });
        return;
      }
      const { turn } = outcome;
      if (outcome.kind === 'refused') {
        enqueue.emit({ type: 'turnRefused', messageId: turn.envelope.id, error: error as NonDeterminismError });
        startTurns(loose(enqueue), self, { ...context, turns: context.turns.filter((other) => other !== turn) });
        return;
      }
      const { journal } = context;
      if (journal.kind === 'durable') enqueue(() => journal.crashed(turn.envelope.id, error));
      const exitedAt = Date.now();
      const { participants } = markDead(context.participants, (participant) => participant === turn.participant, exitedAt);
      enqueue.emit({ type: 'participantExited', participant: turn.participant, exitedAt });
      const crashed: ConversationContext = {
        ...context,
        participants,
        turns: context.turns.filter((other) => other !== turn),
        log: context.log.append({ kind: 'participantCrashed', participant: turn.participant, policy: context.onCrash, error }),
      };
      switch (outcome.kind) {
        case 'fail':
          enqueue.assign({ ...crashed, failure: { reason: 'participantCrashed', cause: error } });
          return;
        case 'noParticipantLeft':
          enqueue.assign({ ...crashed, failure: { reason: 'noParticipantLeft', cause: error } });
          return;
        case 'reroute':
          // The crashed participant's message goes first, to the next live participant.
          startTurns(loose(enqueue), self, { ...crashed, queue: crashed.queue.unshift(turn.envelope) });
          return;
        case 'compensate': {
          for (const other of crashed.turns) stopTurn(enqueue, other);
          enqueue.assign({ ...crashed, turns: [], compensating: true });
          const cause = { participant: turn.participant, messageId: turn.envelope.id, error };
          const run = journal.kind === 'durable' ? () => journal.compensate(cause) : () => compensateInMemory(context.compensations, journal.compensationAttempts);
          enqueue.spawnChild('compensations', { id: compensationsId, input: { run } });
          return;
        }
      }
    }),
    resumeCompensations: enqueueActions(({ context, enqueue }) => {
      const { journal } = context;
      if (journal.kind !== 'durable' || context.compensating) return;
      for (const turn of context.turns) stopTurn(enqueue, turn);
      enqueue.assign({ turns: [], compensating: true });
      enqueue.spawnChild('compensations', { id: compensationsId, input: { run: () => journal.compensate(undefined) } });
    }),
    recordCompensations: enqueueActions(({ context, event, enqueue }) => {
      if (!('output' in event)) return;
      const entries = compensationEntries(event.output as CompensationResult[]);
      enqueue.stopChild(compensationsId);
      enqueue.assign({ log: context.log.append(...entries), compensating: false, failure: { reason: 'compensated' } });
    }),
    logCompensationFailures: enqueueActions(({ context, event, enqueue }) => {
      if (!('output' in event)) return;
      enqueue.stopChild(compensationsId);
      enqueue.assign({ log: context.log.append(...compensationEntries(event.output as CompensationResult[])), compensating: false });
    }),
    recordFailure: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'fail') enqueue.assign({ failure: { reason: event.reason ?? 'requested', cause: event.cause } });
      if (event.type === 'conversation.timeout') enqueue.assign({ failure: { reason: 'timeout' } });
    }),
    /** Entering `failed`: every turn is stopped and every participant still alive with it. */
    stopParticipants: enqueueActions(({ context, enqueue }) => {
      enqueue(cancel(timeoutId));
      for (const turn of context.turns) stopTurn(enqueue, turn);
      const exitedAt = Date.now();
      const { participants, died } = markDead(context.participants, () => true, exitedAt);
      for (const participant of died) enqueue.emit({ type: 'participantExited', participant, exitedAt });
      enqueue.assign({ participants, turns: [], queue: Fifo.empty() });
    }),
    stopTurns: enqueueActions(({ context, enqueue }) => {
      enqueue(cancel(timeoutId));
      for (const turn of context.turns) stopTurn(enqueue, turn);
      enqueue.assign({ turns: [], queue: Fifo.empty() });
    }),
  },
}).createMachine({
  id: 'conversation',
  context: ({ input }) => {
    assertConversationConfig(input);
    // Only `openConversation` builds the journal a durable conversation
    // records into; without one, `durable` would silently record nothing.
    if (input.mode === 'durable' && input.journal === undefined) {
      throw new ConfigError('a durable conversation records through a store: start it with openConversation({ mode: "durable", store })');
    }
    return {
      id: input.id ?? randomUUID(),
      onCrash: input.onCrash,
      mode: input.mode,
      timeoutMs: input.timeoutMs,
      logic: Object.fromEntries(input.participants.map((spec) => [spec.id, spec.logic])),
      journal: input.journal ?? ephemeralJournal(input.onStep, input.compensations, input.compensationAttempts ?? DEFAULT_COMPENSATION_ATTEMPTS, input.timers),
      participants: input.participants.map((spec) => ({ participant: spec.id, health: { kind: 'alive' } })),
      log: History.empty(),
      queue: Fifo.empty(),
      turns: [],
      nextTurnSeq: 0,
      roundRobin: 0,
      compensations: [],
      compensating: false,
      failure: undefined,
      rejections: [],
    };
  },
  // The deadline counts from the start, across phases, so it is one delayed
  // event raised once rather than an `after` on each phase (which would restart).
  entry: enqueueActions(({ context, enqueue }) => {
    if (context.timeoutMs !== undefined) enqueue.raise({ type: 'conversation.timeout' }, { delay: context.timeoutMs, id: timeoutId });
  }),
  initial: 'created',
  states: {
    created: {
      on: {
        'conversation.restore': (['created', 'active', 'completing', 'closed', 'failed'] as const).map((phase) => ({
          guard: { type: 'restoresTo', params: { phase } } as const,
          target: phase,
          actions: 'restore' as const,
        })),
        ...lifecycle('created'),
        message: { actions: 'acceptMessage' },
      },
    },
    active: {
      on: {
        ...lifecycle('active'),
        message: { actions: 'acceptMessage' },
      },
    },
    completing: {
      on: {
        ...lifecycle('completing'),
        // Reopened while closing (or re-asked): the messages it already received are still answered.
        message: { guard: 'isRedelivery', actions: 'acceptMessage' },
      },
    },
    closed: {
      entry: 'stopTurns',
      on: {
        ...lifecycle('closed'),
        'conversation.timeout': {},
        'xstate.done.actor.*': {},
        'xstate.error.actor.*': {},
      },
    },
    failed: {
      entry: 'stopParticipants',
      on: {
        ...lifecycle('failed'),
        'conversation.timeout': {},
        // Compensations still running when a timeout or `fail` ended the
        // conversation finish here: their failures are logged, the reason stays.
        'xstate.done.actor.*': { guard: 'compensationsDone', actions: 'logCompensationFailures' },
        'xstate.error.actor.*': {},
      },
    },
  },
  on: {
    // Handled at the root for the live phases; closed and failed override the
    // timeout, and late child events find no turn and are ignored.
    'conversation.timeout': { target: '.failed', actions: 'recordFailure' },
    'compensation.register': { actions: 'registerCompensation' },
    'compensation.resume': { actions: 'resumeCompensations' },
    'liminal.turnCompleted': { actions: 'completeTurn' },
    'xstate.done.actor.*': [
      { guard: 'compensationsDone', target: '.failed', actions: 'recordCompensations' },
      { actions: 'completeTurn' },
    ],
    'xstate.error.actor.*': [{ guard: 'crashFailsNow', target: '.failed', actions: 'handleCrash' }, { actions: 'handleCrash' }],
  },
});

export type ConversationActor = ActorRefFrom<typeof conversationMachine>;

/** Ephemeral mode: the registered closures, newest first; one failure does not stop the rest. */
async function compensateInMemory(compensations: readonly RegisteredCompensation[], attempts: number): Promise<CompensationResult[]> {
  const results: CompensationResult[] = [];
  for (const { participant, messageId, step, stepIndex, run } of [...compensations].reverse()) {
    const outcome = await attemptCompensation(run, attempts);
    results.push({ participant, messageId, step, stepIndex, compensation: undefined, outcome });
  }
  return results;
}

function compensationEntries(results: readonly CompensationResult[]): ConversationLogEntry[] {
  return results.map(({ participant, messageId, step, stepIndex, outcome }): ConversationLogEntry => {
    const where = { participant, messageId, step, stepIndex };
    switch (outcome.kind) {
      case 'compensated':
        return { kind: 'compensated', ...where, attempts: outcome.attempts };
      case 'failed':
        return { kind: 'compensationFailed', ...where, outcome: 'failed', error: outcome.error };
      case 'interrupted':
        return { kind: 'compensationFailed', ...where, outcome: 'interrupted', error: new CompensationInterruptedError(messageId, step) };
    }
  });
}

function stopTurn(enqueue: { stopChild(id: string): void }, turn: Turn): void {
  for (const id of [admissionId(turn.seq), runId(turn.seq), finishId(turn.seq)]) enqueue.stopChild(id);
}

/**
 * The lifecycle events of one phase, built from the one transition table
 * (`phaseChange` in phases.ts): a legal move goes to its phase (a `fail`
 * records why), asking for the current phase does nothing, anything else is
 * refused and recorded. The machine states its lifecycle nowhere else.
 */
function lifecycle(from: ConversationPhase) {
  const transition = (type: PhaseEventType) => {
    const to = phaseEvents[type];
    const change = phaseChange(from, to);
    if (change.kind === 'unchanged') return {};
    if (change.kind === 'rejected') return { actions: reject(from) };
    return type === 'fail' ? { target: `#conversation.${to}`, actions: 'recordFailure' as const } : { target: `#conversation.${to}` };
  };
  return { activate: transition('activate'), beginCompleting: transition('beginCompleting'), close: transition('close'), fail: transition('fail') };
}

/** Refusing a transition records the phase it was refused in. */
function reject(from: ConversationPhase) {
  return { type: 'rejectTransition', params: { from } } as const;
}

function targetPhase(event: ConversationEvent): ConversationPhase {
  return phaseEvents[event.type as PhaseEventType];
}

/**
 * The slice of XState's action enqueuer the turn helpers use. Participant
 * logic is only known at run time, which the statically typed enqueuer
 * cannot express, so spawning goes through this narrower view.
 */
interface LooseEnqueue {
  assign(context: ConversationContext): void;
  spawnChild(src: AnyActorLogic | 'admission' | 'finishing', options: { id: string; input: unknown }): void;
}

const loose = (enqueue: unknown) => enqueue as LooseEnqueue;

/**
 * Assigns `context` after dispatching its queue and starts each new turn: a
 * durable journal admits it first (an actor, since that reads the store); an
 * ephemeral turn runs at once, which spares an actor per message.
 */
function startTurns(enqueue: LooseEnqueue, self: AnyActorRef, context: ConversationContext): void {
  const { context: next, started } = dispatch(context);
  enqueue.assign(next);
  for (const turn of started) {
    const { journal } = next;
    if (journal.kind === 'ephemeral') {
      const register = (registration: CompensationRegistration) =>
        self.send({ type: 'compensation.register', participant: turn.participant, registration });
      spawnRun(enqueue, next, turn, ephemeralSteps(turn.envelope.id, turn.participant, register, journal.onStep, journal.compensations, journal.timers));
      continue;
    }
    const input: AdmissionInput = { journal, envelope: turn.envelope, participant: turn.participant };
    enqueue.spawnChild('admission', { id: admissionId(turn.seq), input });
  }
}

function spawnRun(enqueue: LooseEnqueue, context: ConversationContext, turn: Turn, steps: StepContext): void {
  const input: ParticipantInput = {
    conversationId: context.id,
    participant: turn.participant,
    turnId: runId(turn.seq),
    envelope: turn.envelope,
    payload: turn.envelope.message.payload,
    steps,
  };
  enqueue.spawnChild(context.logic[turn.participant]!, { id: runId(turn.seq), input });
}
