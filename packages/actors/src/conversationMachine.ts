import { randomUUID } from 'node:crypto';
import { cancel, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import { ConfigError } from '@liminal/store';
import type { ConversationContext, ConversationEmitted, ConversationEvent, ConversationInput } from './conversationTypes.js';
import { NonDeterminismError } from './errors.js';
import { assertConversationConfig } from './internal/assertConversationConfig.js';
import { compensationActors, compensationEntries, compensationsId, startCompensations } from './internal/compensationRun.js';
import { crashOf, crashOutcome } from './internal/crashOutcome.js';
import { Fifo } from './internal/Fifo.js';
import { History } from './internal/History.js';
import { markDead } from './internal/participantHealth.js';
import { ephemeralJournal } from './internal/TurnJournal.js';
import { advanceTurn, loose, queueMessage, startTurns, turnActors, turnOf } from './internal/turns.js';
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
      const { kind } = crashOutcome(context, crashOf(event));
      return kind === 'fail' || kind === 'noParticipantLeft' || kind === 'journalFailed';
    },
    crashCompensates: ({ context, event }) => crashOutcome(context, crashOf(event)).kind === 'compensate',
    fromCompensations: ({ event }) => 'actorId' in event && event.actorId === compensationsId,
    /** Only a durable log holds a compensation run to resume. */
    journaled: ({ context }) => context.journal.kind === 'durable',
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
      const next = queueMessage(context, event.envelope, (write) => enqueue(write));
      if (next !== undefined) startTurns(loose(enqueue), self, next);
    }),
    // A compensating conversation still takes (and journals) messages but
    // starts no turn: it is about to fail, and `failed` drops its queue.
    holdMessage: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'message') return;
      const next = queueMessage(context, event.envelope, (write) => enqueue(write));
      if (next !== undefined) enqueue.assign(next);
    }),
    registerCompensation: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'compensation.register') return;
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
      const crash = crashOf(event);
      const outcome = crashOutcome(context, crash);
      if (crash === undefined || outcome.kind === 'ignore') return;
      const { actorId, error } = crash;
      enqueue.stopChild(actorId);
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
        case 'compensate':
          startCompensations(loose(enqueue), crashed, { participant: turn.participant, messageId: turn.envelope.id, error });
          return;
      }
    }),
    // The log holds the run and its cause (`journaled` guards this transition).
    resumeCompensations: enqueueActions(({ context, enqueue }) => startCompensations(loose(enqueue), context, undefined)),
    recordCompensations: enqueueActions(({ context, event, enqueue }) => {
      if (!('output' in event)) return;
      const entries = compensationEntries(event.output as CompensationResult[]);
      enqueue.stopChild(compensationsId);
      enqueue.assign({ log: context.log.append(...entries), failure: { reason: 'compensated' } });
    }),
    logCompensationFailures: enqueueActions(({ context, event, enqueue }) => {
      if (!('output' in event)) return;
      enqueue.stopChild(compensationsId);
      enqueue.assign({ log: context.log.append(...compensationEntries(event.output as CompensationResult[])) });
    }),
    /** Only a durable run can fail (an ephemeral one never throws): its log write failed. */
    recordJournalFailure: enqueueActions(({ event, enqueue }) => {
      if (!('actorId' in event)) return;
      enqueue.stopChild(event.actorId);
      enqueue.assign({ failure: { reason: 'journalFailed', cause: 'error' in event ? event.error : undefined } });
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
        ...working('created'),
        message: { actions: 'acceptMessage' },
      },
    },
    active: {
      on: {
        ...working('active'),
        message: { actions: 'acceptMessage' },
      },
    },
    completing: {
      on: {
        ...working('completing'),
        // Reopened while closing (or re-asked): the messages it already received are still answered.
        message: { guard: 'isRedelivery', actions: 'acceptMessage' },
      },
    },
    // A crash under `compensate` (or a run resumed from the log) stopped every
    // turn and runs the compensations; the conversation then fails with
    // `compensated`. Its substate is the phase it compensates in, which it
    // still reports (`phaseOf`) and which lifecycle events still move.
    compensating: {
      // XState asks for one; every way in names the phase it compensates in.
      initial: 'active',
      states: {
        created: { on: { ...lifecycle('created', 'compensating'), message: { actions: 'holdMessage' } } },
        active: { on: { ...lifecycle('active', 'compensating'), message: { actions: 'holdMessage' } } },
        completing: { on: { ...lifecycle('completing', 'compensating'), message: { guard: 'isRedelivery', actions: 'holdMessage' } } },
      },
      on: {
        // Steps of the stopped turns that still complete add nothing to undo: the run is already chosen.
        'compensation.register': {},
        'xstate.done.actor.*': { guard: 'fromCompensations', target: '#conversation.failed', actions: 'recordCompensations' },
        'xstate.error.actor.*': { guard: 'fromCompensations', target: '#conversation.failed', actions: 'recordJournalFailure' },
      },
    },
    closed: {
      entry: 'stopTurns',
      on: {
        ...lifecycle('closed'),
        'conversation.timeout': {},
      },
    },
    failed: {
      entry: 'stopParticipants',
      on: {
        ...lifecycle('failed'),
        'conversation.timeout': {},
        // Compensations still running when a timeout or `fail` ended the
        // conversation finish here: their failures are logged, the reason stays.
        'xstate.done.actor.*': { guard: 'fromCompensations', actions: 'logCompensationFailures' },
      },
    },
  },
  on: {
    // Handled at the root for the live phases (closed and failed override the
    // timeout); late child events find no turn and are ignored.
    'conversation.timeout': { target: '.failed', actions: 'recordFailure' },
    'compensation.register': { actions: 'registerCompensation' },
    'liminal.turnCompleted': { actions: 'completeTurn' },
    'xstate.done.actor.*': { actions: 'completeTurn' },
  },
});

export type ConversationActor = ActorRefFrom<typeof conversationMachine>;

type LivePhase = Exclude<ConversationPhase, 'closed' | 'failed'>;

function isLive(phase: ConversationPhase): phase is LivePhase {
  return phase !== 'closed' && phase !== 'failed';
}

/**
 * The lifecycle events of one phase, built from the one transition table
 * (`phaseChange` in phases.ts): a legal move goes to its phase (a `fail`
 * records why), asking for the current phase does nothing, anything else is
 * refused and recorded. The machine states its lifecycle nowhere else. A
 * compensating conversation moves between the live phases inside `compensating`.
 */
function lifecycle(from: ConversationPhase, within: 'working' | 'compensating' = 'working') {
  const transition = (type: PhaseEventType) => {
    const to = phaseEvents[type];
    const change = phaseChange(from, to);
    if (change.kind === 'unchanged') return {};
    if (change.kind === 'rejected') return { actions: reject(from) };
    const target = within === 'compensating' && isLive(to) ? `#conversation.compensating.${to}` : `#conversation.${to}`;
    return type === 'fail' ? { target, actions: 'recordFailure' as const } : { target };
  };
  return { activate: transition('activate'), beginCompleting: transition('beginCompleting'), close: transition('close'), fail: transition('fail') };
}

/**
 * A live phase at work: its lifecycle, and the crashes of its turns, which
 * fail it, go on in it, or (under `compensate`) start compensating in it, as a
 * compensation run resumed from the log does.
 */
function working(phase: LivePhase) {
  const compensating = `#conversation.compensating.${phase}` as const;
  return {
    ...lifecycle(phase),
    'xstate.error.actor.*': [
      { guard: 'crashFailsNow' as const, target: '#conversation.failed', actions: 'handleCrash' as const },
      { guard: 'crashCompensates' as const, target: compensating, actions: 'handleCrash' as const },
      { actions: 'handleCrash' as const },
    ],
    'compensation.resume': { guard: 'journaled' as const, target: compensating, actions: 'resumeCompensations' as const },
  };
}

/** Refusing a transition records the phase it was refused in. */
function reject(from: ConversationPhase) {
  return { type: 'rejectTransition', params: { from } } as const;
}

function targetPhase(event: ConversationEvent): ConversationPhase {
  return phaseEvents[event.type as PhaseEventType];
}
