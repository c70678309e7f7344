import { describe, expect, it } from 'vitest';
import { createMachine, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { ConversationFailedError, openConversation, participant, type ParticipantExit, type ParticipantInput, type StepEvent } from '../src/index.js';
import { tick, until } from './support.js';

/** Crashes on payloads starting with "crash", otherwise replies `<id>:<payload>`. */
function worker(id: string, handled: string[] = []) {
  return participant(
    id,
    fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
      handled.push(`${id}:${input.payload}`);
      if (input.payload.startsWith('crash')) throw new Error(`${id} crashed on ${input.payload}`);
      return `${id}:${input.payload}`;
    }),
  );
}

/** Never finishes a turn; records when its turn is stopped. */
function hanging(id: string, aborted: string[]) {
  return participant(
    id,
    fromPromise<string, ParticipantInput<string>>(
      ({ input, signal }) =>
        new Promise(() => {
          signal.addEventListener('abort', () => aborted.push(`${id}:${input.payload}`));
        }),
    ),
  );
}

describe('onCrash: fail', () => {
  it('fails the conversation, stops the other participants and rejects pending receive/ask', async () => {
    const aborted: string[] = [];
    const handle = await openConversation({
      participants: [hanging('slow', aborted), worker('crasher')],
      onCrash: 'fail',
      mode: 'ephemeral',
    });
    const pendingAsk = handle.ask('wait', { timeoutMs: 5000 });
    const pendingReceive = handle.receive({ timeoutMs: 5000 });
    handle.send('crash-now');
    const error = await pendingAsk.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect(error).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'participantCrashed' });
    await expect(pendingReceive).rejects.toMatchObject({ reason: 'participantCrashed' });
    expect(aborted).toEqual(['slow:wait']);

    const state = handle.getState();
    expect(state.phase).toBe('failed');
    expect(state.failure?.reason).toBe('participantCrashed');
    expect(state.participants.map((p) => [p.participant, p.health.kind])).toEqual([
      ['slow', 'dead'],
      ['crasher', 'dead'],
    ]);
    expect(state.log.filter((entry) => entry.kind === 'participantCrashed')).toMatchObject([
      { kind: 'participantCrashed', participant: 'crasher', policy: 'fail' },
    ]);
    expect(() => handle.send('more')).toThrow(ConversationFailedError);
    await expect(handle.receive()).rejects.toBeInstanceOf(ConversationFailedError);
  });

  it('a notifier registered after a participant died still learns when it died', async () => {
    const handle = await openConversation({ participants: [worker('crasher')], onCrash: 'fail', mode: 'ephemeral' });
    const before = Date.now();
    handle.send('crash');
    await until(() => handle.getState().phase === 'failed');
    const exits: ParticipantExit[] = [];
    handle.onParticipantExit((exit) => exits.push(exit));
    expect(exits).toHaveLength(1);
    expect(exits[0]!.participant).toBe('crasher');
    const health = handle.getState().participants[0]!.health;
    expect(health.kind).toBe('dead');
    expect(exits[0]!.exitedAt).toBe(health.kind === 'dead' ? health.exitedAt : undefined);
    expect(exits[0]!.exitedAt).toBeGreaterThanOrEqual(before);
  });
});

describe('onCrash: routeToNext', () => {
  it('hands the crashed message to the next live participant, round-robin', async () => {
    const handled: string[] = [];
    const flaky = participant(
      'a',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        handled.push(`a:${input.payload}`);
        throw new Error('a always crashes');
      }),
    );
    const handle = await openConversation({
      participants: [flaky, worker('b', handled), worker('c', handled)],
      onCrash: 'routeToNext',
      mode: 'ephemeral',
    });
    const exits: string[] = [];
    handle.onParticipantExit((exit) => exits.push(exit.participant));
    const reply = await handle.ask('m1', { timeoutMs: 1000 });
    expect(reply.message.payload).toBe('b:m1');
    expect(handled).toEqual(['a:m1', 'b:m1']);
    expect(exits).toEqual(['a']);
    // Round-robin continues after b: the next message goes to c, then b again.
    expect((await handle.ask('m2', { timeoutMs: 1000 })).message.payload).toBe('c:m2');
    expect((await handle.ask('m3', { timeoutMs: 1000 })).message.payload).toBe('b:m3');
    const state = handle.getState();
    expect(state.phase).toBe('active');
    expect(state.participants.map((p) => p.health.kind)).toEqual(['dead', 'alive', 'alive']);
    expect(state.log.filter((entry) => entry.kind === 'participantCrashed')).toMatchObject([{ participant: 'a', policy: 'routeToNext' }]);
  });

  it('the rerouted message goes before messages that were already waiting', async () => {
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const b = participant(
      'b',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        order.push(input.payload);
        await new Promise<void>((resolve) => gates.set(input.payload, resolve));
        return input.payload;
      }),
    );
    const crashOnFirst = participant(
      'a',
      fromPromise<string, ParticipantInput<string>>(async () => {
        await tick();
        throw new Error('a crashed');
      }),
    );
    const handle = await openConversation({ participants: [crashOnFirst, b], onCrash: 'routeToNext', mode: 'ephemeral' });
    handle.send('m1'); // to a, which crashes on it
    handle.send('m2'); // to b, which holds it
    handle.send('m3'); // waits
    await until(() => handle.getState().log.some((entry) => entry.kind === 'participantCrashed'));
    gates.get('m2')!();
    await until(() => order.length === 2);
    gates.get('m1')!();
    await until(() => order.length === 3);
    gates.get('m3')!();
    expect(order).toEqual(['m2', 'm1', 'm3']);
    await handle.close();
  });

  it('fails with noParticipantLeft when the last live participant crashes', async () => {
    const handled: string[] = [];
    const handle = await openConversation({
      participants: [worker('a', handled), worker('b', handled)],
      onCrash: 'routeToNext',
      mode: 'ephemeral',
    });
    const error = await handle.ask('crash', { timeoutMs: 1000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect(error).toMatchObject({ reason: 'noParticipantLeft' });
    expect(handled).toEqual(['a:crash', 'b:crash']);
    const state = handle.getState();
    expect(state.phase).toBe('failed');
    expect(state.log.filter((entry) => entry.kind === 'participantCrashed').map((entry) => 'participant' in entry && entry.participant)).toEqual(['a', 'b']);
  });
});

describe('every kind of participant logic can crash', () => {
  it('a machine that errors and a callback that throws are crashes, rerouted like a failed promise', async () => {
    const handled: string[] = [];
    const machine = participant(
      'machine',
      createMachine({
        entry: () => {
          throw new Error('machine crashed');
        },
      }),
    );
    const callback = participant(
      'callback',
      fromCallback(() => {
        throw new Error('callback crashed');
      }),
    );
    const handle = await openConversation({ participants: [machine, callback, worker('steady', handled)], onCrash: 'routeToNext', mode: 'ephemeral' });
    expect((await handle.ask('m', { timeoutMs: 1000 })).message.payload).toBe('steady:m');
    const crashes = handle.getState().log.flatMap((entry) => (entry.kind === 'participantCrashed' ? [[entry.participant, (entry.error as Error).message]] : []));
    expect(crashes).toEqual([
      ['machine', 'machine crashed'],
      ['callback', 'callback crashed'],
    ]);
    expect(handle.getState().participants.map((p) => p.health.kind)).toEqual(['dead', 'dead', 'alive']);
  });
});

describe('onCrash: compensate', () => {
  it('runs registered compensations newest first, each once, then fails with reason compensated', async () => {
    const effects: string[] = [];
    const booking = participant(
      'booking',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        const { steps, payload } = input;
        await steps.step('reserve', () => effects.push(`reserve ${payload}`), { compensate: () => void effects.push(`release ${payload}`) });
        await steps.step('charge', () => effects.push(`charge ${payload}`), { compensate: () => void effects.push(`refund ${payload}`) });
        if (payload === 'fail') throw new Error('shipping failed');
        return 'ok';
      }),
    );
    const handle = await openConversation({ participants: [booking], onCrash: 'compensate', mode: 'ephemeral' });
    expect((await handle.ask('order-1', { timeoutMs: 1000 })).message.payload).toBe('ok');
    const error = await handle.ask('fail', { timeoutMs: 1000 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'compensated' });
    expect(effects).toEqual([
      'reserve order-1',
      'charge order-1',
      'reserve fail',
      'charge fail',
      'refund fail',
      'release fail',
      'refund order-1',
      'release order-1',
    ]);
    expect(handle.getState().failure?.reason).toBe('compensated');
    expect(handle.getState().log.filter((entry) => entry.kind === 'participantCrashed')).toMatchObject([{ participant: 'booking', policy: 'compensate' }]);
  });

  it('a throwing compensation is recorded and the others still run', async () => {
    const undone: string[] = [];
    const p = participant(
      'p',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        await input.steps.step('one', () => 1, { compensate: () => void undone.push('one') });
        await input.steps.step('two', () => 2, {
          compensate: () => {
            throw new Error('cannot undo two');
          },
        });
        await input.steps.step('three', () => 3, { compensate: () => void undone.push('three') });
        throw new Error('crash after three steps');
      }),
    );
    const handle = await openConversation({ participants: [p], onCrash: 'compensate', mode: 'ephemeral' });
    handle.send('go');
    await until(() => handle.getState().phase === 'failed');
    expect(undone).toEqual(['three', 'one']);
    const failed = handle.getState().log.filter((entry) => entry.kind === 'compensationFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ kind: 'compensationFailed', participant: 'p', step: 'two' });
    expect(handle.getState().failure?.reason).toBe('compensated');
  });
});

describe('step observation (onStep)', () => {
  it('reports each step completed or failed, with its duration, and a throwing observer changes nothing', async () => {
    const events: StepEvent[] = [];
    const p = participant(
      'p',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        await input.steps.step('one', () => 1);
        await input.steps.step('two', () => {
          if (input.payload === 'bad') throw new Error('step two failed');
          return 2;
        });
        return 'ok';
      }),
    );
    const handle = await openConversation({
      participants: [p],
      onCrash: 'fail',
      mode: 'ephemeral',
      onStep: (event) => {
        events.push(event);
        throw new Error('a broken metrics hook');
      },
    });
    expect((await handle.ask('good', 1000)).message.payload).toBe('ok');
    await expect(handle.ask('bad', 1000)).rejects.toMatchObject({ reason: 'participantCrashed' });
    expect(events.map((e) => [e.kind, e.messageId === events[0]!.messageId, e.step, e.stepIndex])).toEqual([
      ['completed', true, 'one', 0],
      ['completed', true, 'two', 1],
      ['completed', false, 'one', 0],
      ['failed', false, 'two', 1],
    ]);
    for (const event of events) expect(event.kind !== 'replayed' && event.durationMs >= 0).toBe(true);
    expect(events[3]).toMatchObject({ error: expect.objectContaining({ message: 'step two failed' }) });
  });
});

describe('compensation and close', () => {
  it('close during compensation waits for it and rejects with reason compensated', async () => {
    let release!: () => void;
    const undone: string[] = [];
    const p = participant(
      'p',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        await input.steps.step('one', () => 1, {
          compensate: () => new Promise<void>((resolve) => (release = () => (undone.push('one'), resolve()))),
        });
        throw new Error('crash');
      }),
    );
    const handle = await openConversation({ participants: [p], onCrash: 'compensate', mode: 'ephemeral' });
    handle.send('go');
    await until(() => release !== undefined);
    const closing = handle.close().catch((caught: unknown) => caught);
    await tick();
    expect(handle.getState().phase).toBe('completing');
    release();
    expect(await closing).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'compensated' });
    expect(undone).toEqual(['one']);
    expect(handle.getState().phase).toBe('failed');
  });

  it('a compensating conversation is in state compensating, reports its phase, and starts no turn for a free participant', async () => {
    let release!: () => void;
    const undo = new Promise<void>((resolve) => (release = resolve));
    const stepThenCrash = fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
      await input.steps.step('one', () => 1, { compensate: () => undo });
      throw new Error('crash');
    });
    const handled: string[] = [];
    const handle = await openConversation({ participants: [participant('crasher', stepThenCrash), worker('idle', handled)], onCrash: 'compensate', mode: 'ephemeral' });
    handle.send('go');
    await until(() => handle.actor.getSnapshot().matches('compensating'));
    expect(handle.actor.getSnapshot().matches({ compensating: 'active' })).toBe(true);
    expect(handle.getState().phase).toBe('active');
    const later = handle.ask('later', { timeoutMs: 5000 }).catch((caught: unknown) => caught);
    const closing = handle.close().catch((caught: unknown) => caught);
    await tick();
    expect(handle.actor.getSnapshot().matches({ compensating: 'completing' })).toBe(true);
    expect(handle.getState()).toMatchObject({ phase: 'completing', inFlight: 1 });
    expect(handled).toEqual([]);
    release();
    expect(await closing).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'compensated' });
    expect(await later).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'compensated' });
    expect(handled).toEqual([]);
    expect(handle.getState()).toMatchObject({ phase: 'failed', inFlight: 0 });
  });
});

describe('participants are linked XState children', () => {
  it('a participant crash reaches the conversation as xstate.error.actor, visible to inspection', async () => {
    const crashEvents: { type: string; to: unknown; from: unknown }[] = [];
    const handle = await openConversation({
      participants: [worker('crasher')],
      onCrash: 'fail',
      mode: 'ephemeral',
      inspect: (event) => {
        if (event.type === '@xstate.event' && event.event.type.startsWith('xstate.error.actor.')) {
          crashEvents.push({ type: event.event.type, to: event.actorRef, from: event.sourceRef });
        }
      },
    });
    handle.send('crash');
    await until(() => handle.getState().phase === 'failed');
    expect(crashEvents).toHaveLength(1);
    expect(crashEvents[0]!.type).toMatch(/^xstate\.error\.actor\.run:/);
    expect(crashEvents[0]!.to).toBe(handle.actor);
    expect(crashEvents[0]!.from).toBeDefined();
  });
});

describe('conversation timeout through a handle', () => {
  it('rejects a pending receive with reason timeout once the (simulated) deadline passes', async () => {
    const clock = new SimulatedClock();
    const handle = await openConversation({ participants: [], onCrash: 'fail', mode: 'ephemeral', timeoutMs: 1000, clock });
    const pending = handle.receive();
    clock.increment(999);
    expect(handle.getState().phase).toBe('created');
    clock.increment(1);
    await expect(pending).rejects.toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'timeout' });
  });
});
