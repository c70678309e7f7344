import { fromPromise, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { ConversationMessage } from '../ConversationMessage.js';
import type { ConversationContext, ConversationEmitted, Turn } from '../conversationTypes.js';
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

const admissionId = (seq: number) => `admit:${seq}`;
const runId = (seq: number) => `run:${seq}`;
const finishId = (seq: number) => `finish:${seq}`;

/** Turn ids are `admit:<seq>` / `run:<seq>` / `finish:<seq>`; anything else is not a turn. */
export function turnOf(context: ConversationContext, actorId: string): { turn: Turn; stage: 'admit' | 'run' | 'finish' } | undefined {
  const [stage, seq] = actorId.split(':');
  if (stage !== 'admit' && stage !== 'run' && stage !== 'finish') return undefined;
  const turn = context.turns.find((candidate) => String(candidate.seq) === seq);
  return turn === undefined ? undefined : { turn, stage };
}

/** The message is waiting in the queue or being handled. */
export const isPending = (context: ConversationContext, messageId: string) =>
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

/**
 * The slice of XState's action enqueuer the turn helpers use. Participant
 * logic is only known at run time, which the statically typed enqueuer
 * cannot express, so spawning goes through this narrower view.
 */
export interface LooseEnqueue {
  assign(context: ConversationContext): void;
  spawnChild(src: AnyActorLogic | 'admission' | 'finishing', options: { id: string; input: unknown }): void;
  stopChild(id: string): void;
  emit(event: ConversationEmitted): void;
}

export const loose = (enqueue: unknown) => enqueue as LooseEnqueue;

/**
 * Assigns `context` after dispatching its queue and starts each new turn: a
 * durable journal admits it first (an actor, since that reads the store); an
 * ephemeral turn runs at once, which spares an actor per message.
 */
export function startTurns(enqueue: LooseEnqueue, self: AnyActorRef, context: ConversationContext): void {
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

/**
 * The child `actorId` of a turn finished with `output`: the turn moves to its
 * next stage, or ends, releasing its reply (if any) and its participant.
 */
export function advanceTurn(
  enqueue: LooseEnqueue,
  self: AnyActorRef,
  context: ConversationContext,
  { turn, stage }: { turn: Turn; stage: 'admit' | 'run' | 'finish' },
  actorId: string,
  output: unknown,
): void {
  // A finished child stays in `children` until stopped; turns would pile up.
  enqueue.stopChild(actorId);
  const { journal } = context;
  if (stage === 'admit') {
    const admission = output as Admission;
    if (admission.kind === 'run') {
      spawnRun(enqueue, context, turn, admission.steps);
      return;
    }
    // Finished before: answered with the reply it recorded, nothing runs.
    output = admission.reply;
  } else if (stage === 'run' && journal.kind === 'durable') {
    // The reply is released only once it and the message's end are in the log.
    const input: FinishInput = { journal, messageId: turn.envelope.id, reply: output };
    enqueue.spawnChild('finishing', { id: finishId(turn.seq), input });
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

export function stopTurn(enqueue: { stopChild(id: string): void }, turn: Turn): void {
  for (const id of [admissionId(turn.seq), runId(turn.seq), finishId(turn.seq)]) enqueue.stopChild(id);
}
