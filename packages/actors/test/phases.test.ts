import { getAdjacencyMap, getSimplePaths } from '@xstate/graph';
import { createActor, fromPromise, SimulatedClock, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { Conversation, conversationMachine, participant, phaseChange, type ConversationEvent, type ConversationPhase, type ParticipantInput } from '../src/index.js';
import { phaseOf } from '../src/internal/phaseOf.js';
import { tick } from './support.js';

const input = { id: 'c', participants: [], onCrash: 'fail', mode: 'ephemeral' } as const;
const phaseEventList = [{ type: 'activate' }, { type: 'beginCompleting' }, { type: 'close' }, { type: 'fail' }] as const satisfies readonly ConversationEvent[];
const target: Record<(typeof phaseEventList)[number]['type'], ConversationPhase> = {
  activate: 'active',
  beginCompleting: 'completing',
  close: 'closed',
  fail: 'failed',
};
const phases: ConversationPhase[] = ['created', 'active', 'completing', 'closed', 'failed'];
// Serialize by phase only: rejections grow the context, not the phase graph.
const graphLogic: AnyStateMachine = conversationMachine;
const traversal = { input, events: phaseEventList, serializeState: (snapshot: { value: unknown }) => JSON.stringify(snapshot.value) };

function actorAt(path: readonly ConversationEvent[]) {
  const actor = createActor(conversationMachine, { input }).start();
  for (const event of path) actor.send(event);
  return actor;
}

describe('phase rule', () => {
  it.each([
    ['created', 'active'],
    ['active', 'completing'],
    ['completing', 'closed'],
    ['created', 'failed'],
    ['active', 'failed'],
    ['completing', 'failed'],
  ] as const)('%s -> %s is a legal move', (from, to) => {
    expect(phaseChange(from, to)).toEqual({ kind: 'moved' });
  });

  it.each(phases)('asking for the current phase (%s) changes nothing', (phase) => {
    expect(phaseChange(phase, phase)).toEqual({ kind: 'unchanged' });
  });

  it.each([
    ['created', 'completing'],
    ['created', 'closed'],
    ['active', 'created'],
    ['active', 'closed'],
    ['completing', 'active'],
    ['closed', 'active'],
    ['closed', 'completing'],
    ['closed', 'failed'],
    ['failed', 'active'],
    ['failed', 'completing'],
    ['failed', 'closed'],
  ] as const)('%s -> %s is rejected with from/to', (from, to) => {
    expect(phaseChange(from, to)).toEqual({ kind: 'rejected', from, to });
  });
});

describe('conversationMachine, model-based (@xstate/graph)', () => {
  const adjacency = getAdjacencyMap(graphLogic, traversal);

  it('reaches every phase', () => {
    const reached = new Set(getSimplePaths(graphLogic, traversal).map((path) => path.state.value as unknown));
    expect([...reached].sort()).toEqual([...phases].sort());
  });

  // Every (phase, event) pair of the graph, replayed on a real actor along
  // the shortest path to that phase, must do what the phase rule says.
  const paths = getSimplePaths(graphLogic, traversal);
  const pathTo = new Map<string, ConversationEvent[]>();
  for (const path of paths) {
    const key = JSON.stringify(path.state.value);
    const events = path.steps.slice(1).map((step) => step.event as ConversationEvent);
    const known = pathTo.get(key);
    if (known === undefined || events.length < known.length) pathTo.set(key, events);
  }
  type Transition = { event: unknown; state: { value: unknown } };
  type Case = { from: ConversationPhase; event: (typeof phaseEventList)[number]; modelNext: ConversationPhase };
  const cases: Case[] = Object.values(adjacency).flatMap(({ state, transitions }) =>
    Object.values(transitions as Record<string, Transition>).map(({ event, state: next }) => ({
      from: (state as { value: ConversationPhase }).value,
      event: event as (typeof phaseEventList)[number],
      modelNext: next.value as ConversationPhase,
    })),
  );

  it('covers all 5 phases x 4 lifecycle events', () => {
    expect(cases).toHaveLength(20);
  });

  it.each(cases.map((c) => [c.from, c.event.type, c] as const))('in %s, %s follows the phase rule', (_from, _type, { from, event, modelNext }) => {
    const actor = actorAt(pathTo.get(JSON.stringify(from))!);
    expect(actor.getSnapshot().value).toBe(from);
    const rejectionsBefore = actor.getSnapshot().context.rejections.length;
    const emitted: unknown[] = [];
    actor.on('transitionRejected', (rejected) => emitted.push(rejected));
    actor.send(event);
    const change = phaseChange(from, target[event.type]);
    const { value, context } = actor.getSnapshot();
    expect(value).toBe(modelNext);
    if (change.kind === 'moved') {
      expect(value).toBe(target[event.type]);
    } else {
      expect(value).toBe(from);
    }
    if (change.kind === 'rejected') {
      expect(context.rejections.slice(rejectionsBefore)).toEqual([{ from, to: target[event.type] }]);
      expect(emitted).toEqual([{ type: 'transitionRejected', from, to: target[event.type] }]);
    } else {
      expect(context.rejections).toHaveLength(rejectionsBefore);
      expect(emitted).toEqual([]);
    }
  });

  it('every path of up to 5 events keeps phase = the rule applied step by step', () => {
    const model = (events: readonly (typeof phaseEventList)[number][]) =>
      events.reduce<ConversationPhase>((phase, event) => (phaseChange(phase, target[event.type]).kind === 'moved' ? target[event.type] : phase), 'created');
    const sequences: (typeof phaseEventList)[number][][] = [[]];
    for (let depth = 0; depth < 5; depth++) {
      for (const sequence of [...sequences].filter((s) => s.length === depth)) for (const event of phaseEventList) sequences.push([...sequence, event]);
    }
    for (const sequence of sequences) expect(actorAt(sequence).getSnapshot().value, sequence.map((e) => e.type).join(',')).toBe(model(sequence));
  });
});

describe('a compensating conversation keeps the phase rule', () => {
  // A crash under `compensate` whose one compensation never ends keeps the conversation compensating.
  const crasher = participant(
    'crasher',
    fromPromise<never, ParticipantInput>(async ({ input }) => {
      await input.steps.step('one', () => 1, { compensate: () => new Promise<void>(() => {}) });
      throw new Error('crash');
    }),
  );
  const compensatingInput = { id: 'c', participants: [crasher], onCrash: 'compensate', mode: 'ephemeral' } as const;
  const live = ['created', 'active', 'completing'] as const;
  const span = Conversation.start('c');
  const message = (id: string, payload: string): ConversationEvent => ({ type: 'message', envelope: { id, sender: 'test', message: span.message(payload), inReplyTo: undefined } });

  async function compensatingIn(phase: (typeof live)[number]) {
    const actor = createActor(conversationMachine, { input: compensatingInput }).start();
    if (phase !== 'created') actor.send({ type: 'activate' });
    actor.send(message('m1', 'go'));
    await tick();
    if (phase === 'completing') actor.send({ type: 'beginCompleting' });
    return actor;
  }

  it.each(live.flatMap((from) => phaseEventList.map((event) => [from, event.type, event] as const)))(
    'compensating in %s, %s follows the phase rule and stays compensating while live',
    async (from, _type, event) => {
      const actor = await compensatingIn(from);
      expect(actor.getSnapshot().value).toEqual({ compensating: from });
      const rejectionsBefore = actor.getSnapshot().context.rejections.length;
      actor.send(event);
      const to = target[event.type];
      const change = phaseChange(from, to);
      const expected = change.kind === 'moved' ? to : from;
      const snapshot = actor.getSnapshot();
      expect(phaseOf(snapshot)).toBe(expected);
      expect(snapshot.matches('compensating')).toBe(expected !== 'closed' && expected !== 'failed');
      expect(snapshot.context.rejections.slice(rejectionsBefore)).toEqual(change.kind === 'rejected' ? [{ from, to }] : []);
    },
  );

  it.each(live)('compensating in %s, a message starts no turn', async (phase) => {
    const actor = await compensatingIn(phase);
    // A closing conversation takes no new message, compensating or not.
    const queued = phase === 'completing' ? 0 : 1;
    actor.send(message('m2', 'more'));
    const { context, children } = actor.getSnapshot();
    expect(context.turns).toEqual([]);
    expect(context.queue.length).toBe(queued);
    expect(Object.keys(children)).toEqual(['compensations']);
  });
});

describe('conversation timeout', () => {
  it('fails with reason timeout once the deadline passes', () => {
    const clock = new SimulatedClock();
    const actor = createActor(conversationMachine, { input: { ...input, timeoutMs: 1000 }, clock }).start();
    actor.send({ type: 'activate' });
    clock.increment(999);
    expect(actor.getSnapshot().value).toBe('active');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().context.failure).toEqual({ reason: 'timeout' });
  });

  it('counts from the start, not from the last phase change', () => {
    const clock = new SimulatedClock();
    const actor = createActor(conversationMachine, { input: { ...input, timeoutMs: 1000 }, clock }).start();
    clock.increment(600);
    actor.send({ type: 'activate' });
    clock.increment(400);
    expect(actor.getSnapshot().value).toBe('failed');
  });

  it('never fires after the conversation closed', () => {
    const clock = new SimulatedClock();
    const actor = createActor(conversationMachine, { input: { ...input, timeoutMs: 1000 }, clock }).start();
    for (const type of ['activate', 'beginCompleting', 'close'] as const) actor.send({ type });
    clock.increment(10_000);
    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context.failure).toBeUndefined();
  });

  it('an unset timeout never fires', () => {
    const clock = new SimulatedClock();
    const actor = createActor(conversationMachine, { input, clock }).start();
    actor.send({ type: 'activate' });
    clock.increment(Number.MAX_SAFE_INTEGER);
    expect(actor.getSnapshot().value).toBe('active');
  });
});
