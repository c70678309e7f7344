import { fromPromise, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { ConversationMessage } from '../ConversationMessage.js';
import type { ConversationContext, ConversationEmitted, Turn, TurnStage } from '../conversationTypes.js';
import type { Envelope, ParticipantInput } from '../participant.js';
import { ephemeralSteps, type CompensationRegistration, type StepContext } from '../steps.js';
import { isAlive } from './participantHealth.js';
import type { Admission, RecordingJournal } from './TurnJournal.js';

export interface AdmissionInput {
  readonly journal: RecordingJournal;
  readonly envelope: Envelope;
  readonly participant: string;
}

export interface FinishInput {
  readonly journal: RecordingJournal;
  readonly messageId: string;
  readonly reply: unknown;
}

/** The journal's two stages around a durable participant run, as the machine's `actors`. */
export const turnActors = {
  admission: fromPromise<Admission, AdmissionInput>(({ input }) => input.journal.admit(input.envelope, input.participant)),
  finishing: fromPromise<unknown, FinishInput>(({ input }) => input.journal.finish(input.messageId, input.reply)),
};

/**
 * A stage's child id. Nothing reads a stage or a turn back out of it (a turn
 * records its current child); a participant's id, `run:<seq>`, is also its
 * `ParticipantInput.turnId` and what inspection shows.
 */
const childId = (stage: TurnStage, seq: number) => `${stage}:${seq}`;

/** `turn` moved to `stage`, run by that stage's child. */
const at = (stage: TurnStage, turn: Pick<Turn, 'seq' | 'participant' | 'envelope'>): Turn => ({ ...turn, stage, actorId: childId(stage, turn.seq) });

/** The turn whose current stage `actorId` runs, if any. */
export const turnOf = (context: ConversationContext, actorId: string): Turn | undefined => context.turns.find((turn) => turn.actorId === actorId);

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
  // A durable journal admits a message first (an actor, since that reads the
  // store); an ephemeral turn runs at once, which spares an actor per message.
  const firstStage = context.journal.kind === 'durable' ? 'admit' : 'run';
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
    const turn = at(firstStage, { seq: nextTurnSeq, participant: context.participants[chosen]!.participant, envelope });
    queue = rest;
    turns = [...turns, turn];
    nextTurnSeq += 1;
    roundRobin = (chosen + 1) % count;
    started.push(turn);
  }
  return { context: { ...context, queue, turns, nextTurnSeq, roundRobin }, started };
}

/**
 * The slice of XState's action enqueuer the machine's helpers (turns,
 * compensations) use. Participant logic is only known at run time, which the
 * statically typed enqueuer cannot express, so spawning goes through this narrower view.
 */
export interface LooseEnqueue {
  assign(context: ConversationContext): void;
  spawnChild(src: AnyActorLogic | 'admission' | 'finishing' | 'compensations', options: { id: string; input: unknown }): void;
  stopChild(id: string): void;
  emit(event: ConversationEmitted): void;
}

export const loose = (enqueue: unknown) => enqueue as LooseEnqueue;

/**
 * `context` with `envelope` queued, or `undefined` for a redelivery already
 * queued or handled. A durable journal records a new message (through
 * `write`, an effect of the action) before any participant takes it, so a
 * crash while it waits behind a busy participant does not lose it.
 */
export function queueMessage(context: ConversationContext, envelope: Envelope, write: (effect: () => void) => void): ConversationContext | undefined {
  const { journal } = context;
  if (journal.kind === 'durable') {
    if (journal.hasReceived(envelope.id)) {
      // A redelivery (a re-sent ask, or a reopen resuming it): it is one
      // message, already in the log. One taken or waiting answers this
      // one too; otherwise admission replays it or answers it from the log.
      return isPending(context, envelope.id) ? undefined : { ...context, queue: context.queue.push(envelope) };
    }
    write(() => journal.received(envelope));
  }
  return { ...context, queue: context.queue.push(envelope), log: context.log.append({ kind: 'sent', envelope }) };
}

/** Assigns `context` after dispatching its queue, and starts the first stage of each new turn. */
export function startTurns(enqueue: LooseEnqueue, self: AnyActorRef, context: ConversationContext): void {
  const { context: next, started } = dispatch(context);
  enqueue.assign(next);
  const { journal } = next;
  for (const turn of started) {
    if (journal.kind === 'ephemeral') {
      const register = (registration: CompensationRegistration) =>
        self.send({ type: 'compensation.register', participant: turn.participant, registration });
      spawnRun(enqueue, next, turn, ephemeralSteps(turn.envelope.id, turn.participant, register, journal.onStep, journal.compensations, journal.timers));
      continue;
    }
    const input: AdmissionInput = { journal, envelope: turn.envelope, participant: turn.participant };
    enqueue.spawnChild('admission', { id: turn.actorId, input });
  }
}

/** Starts the participant of `turn`, which is at its `run` stage. */
function spawnRun(enqueue: LooseEnqueue, context: ConversationContext, turn: Turn, steps: StepContext): void {
  const input: ParticipantInput = {
    conversationId: context.id,
    participant: turn.participant,
    turnId: turn.actorId,
    envelope: turn.envelope,
    payload: turn.envelope.message.payload,
    steps,
  };
  enqueue.spawnChild(context.logic[turn.participant]!, { id: turn.actorId, input });
}

/** Moves `turn` on to `stage` and returns it there. */
function moveTo(enqueue: LooseEnqueue, context: ConversationContext, turn: Turn, stage: TurnStage): Turn {
  const moved = at(stage, turn);
  enqueue.assign({ ...context, turns: context.turns.map((other) => (other === turn ? moved : other)) });
  return moved;
}

/**
 * The current child of `turn` finished with `output`: the turn moves to its
 * next stage, or ends, releasing its reply (if any) and its participant.
 */
export function advanceTurn(enqueue: LooseEnqueue, self: AnyActorRef, context: ConversationContext, turn: Turn, output: unknown): void {
  // A finished child stays in `children` until stopped; turns would pile up.
  enqueue.stopChild(turn.actorId);
  const { journal } = context;
  if (turn.stage === 'admit') {
    const admission = output as Admission;
    if (admission.kind === 'run') {
      const running = moveTo(enqueue, context, turn, 'run');
      spawnRun(enqueue, context, running, admission.steps);
      return;
    }
    // Finished before: answered with the reply it recorded, nothing runs.
    output = admission.reply;
  } else if (turn.stage === 'run' && journal.kind === 'durable') {
    // The reply is released only once it and the message's end are in the log.
    const finishing = moveTo(enqueue, context, turn, 'finish');
    const input: FinishInput = { journal, messageId: turn.envelope.id, reply: output };
    enqueue.spawnChild('finishing', { id: finishing.actorId, input });
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
  startTurns(enqueue, self, { ...context, log, turns: context.turns.filter((other) => other !== turn) });
}
