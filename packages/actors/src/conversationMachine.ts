import { randomUUID } from 'node:crypto';
import { cancel, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import { ConfigError } from '@liminal/store';
import type { ConversationContext, ConversationEmitted, ConversationEvent, ConversationInput } from './conversationTypes.js';
import { NonDeterminismError } from './errors.js';
import { assertConversationConfig } from './internal/assertConversationConfig.js';
import { compensateInMemory, compensationActors, compensationEntries, compensationsId } from './internal/compensationRun.js';
import { crashOutcome } from './internal/crashOutcome.js';
import { Fifo } from './internal/Fifo.js';
import { History } from './internal/History.js';
import { markDead } from './internal/participantHealth.js';
import { ephemeralJournal } from './internal/TurnJournal.js';
import { advanceTurn, isPending, loose, startTurns, turnActors, turnOf } from './internal/turns.js';
import { phaseChange, phaseEvents, type ConversationPhase, type PhaseEventType } from './phases.js';
import { DEFAULT_COMPENSATION_ATTEMPTS, type CompensationResult } from './steps.js';

const timeoutId = 'conversation.timeout';

export const conversationMachine = setup({
  types: {
    input: {} as ConversationInput,
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    emitted: {} as ConversationEmitted,
  },
  actors: { ...turnActors, ...compensationActors },
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
      // A participant's `turnCompleted` names its own child, so it finds only a turn at its run stage.
      const turn = turnOf(context, actorId);
      if (turn !== undefined) advanceTurn(loose(enqueue), self, context, turn, output);
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
          for (const other of crashed.turns) enqueue.stopChild(other.actorId);
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
      for (const turn of context.turns) enqueue.stopChild(turn.actorId);
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
      for (const turn of context.turns) enqueue.stopChild(turn.actorId);
      const exitedAt = Date.now();
      const { participants, died } = markDead(context.participants, () => true, exitedAt);
      for (const participant of died) enqueue.emit({ type: 'participantExited', participant, exitedAt });
      enqueue.assign({ participants, turns: [], queue: Fifo.empty() });
    }),
    stopTurns: enqueueActions(({ context, enqueue }) => {
      enqueue(cancel(timeoutId));
      for (const turn of context.turns) enqueue.stopChild(turn.actorId);
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
