import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, InvalidArgumentError, MemoryStore } from '@liminal/store';
import { createActor, createMachine, fromCallback, fromPromise } from 'xstate';
import {
  Conversation,
  conversationMachine,
  ConversationClosedError,
  ConversationFailedError,
  openConversation,
  participant,
  TimeoutError,
  turnCompleted,
  type ConversationInput,
  type ConversationOptions,
  type ParticipantInput,
} from '../src/index.js';
import { tick, until } from './support.js';

const echo = participant(
  'echo',
  fromPromise<string, ParticipantInput<string>>(async ({ input }) => `echo:${input.payload}`),
);

/** A promise participant whose turns finish only when the test says so. */
function gated(id: string) {
  const started: string[] = [];
  const gates = new Map<string, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  const aborted: string[] = [];
  const spec = participant(
    id,
    fromPromise<unknown, ParticipantInput<string>>(
      ({ input, signal }) =>
        new Promise((resolve, reject) => {
          started.push(input.payload);
          gates.set(input.payload, { resolve, reject });
          signal.addEventListener('abort', () => aborted.push(input.payload));
        }),
    ),
  );
  return { spec, started, gates, aborted };
}


describe('conversationMachine used directly (createActor with the DESIGN.md config as input)', () => {
  it('runs from {participants, timeoutMs?, mode, onCrash} alone: a random id, messages in, replies emitted', async () => {
    const actor = createActor(conversationMachine, { input: { participants: [echo], mode: 'ephemeral', onCrash: 'fail' } });
    const replies: unknown[] = [];
    actor.on('reply', ({ envelope }) => replies.push(envelope.message.payload));
    actor.start();
    expect(actor.getSnapshot().context.id).toMatch(/^[0-9a-f-]{36}$/);
    actor.send({ type: 'activate' });
    const span = Conversation.start('direct');
    actor.send({ type: 'message', envelope: { id: 'm1', sender: 'me', message: span.message('hi'), inReplyTo: undefined } });
    await until(() => replies.length === 1);
    expect(replies).toEqual(['echo:hi']);
  });

  it('refuses durable mode without the journal openConversation builds, and bad config, with ConfigError', () => {
    for (const input of [
      { participants: [echo], mode: 'durable', onCrash: 'fail' },
      { participants: [echo], mode: 'ephemeral', onCrash: 'ignore' },
    ]) {
      const errors: unknown[] = [];
      const actor = createActor(conversationMachine, { input: input as ConversationInput });
      actor.subscribe({ error: (error) => errors.push(error) });
      actor.start();
      expect(actor.getSnapshot().status).toBe('error');
      expect(errors[0]).toBeInstanceOf(ConfigError);
    }
  });
});

describe('ConversationHandle messaging', () => {
  it('a reply from a participant reaches receive, with the request trace context', async () => {
    const handle = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
    const id = handle.send('hi');
    expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/); // newMessageId from @liminal/durability, the repo's one id scheme
    const reply = await handle.receive({ timeoutMs: 1000 });
    expect(reply.message.payload).toBe('echo:hi');
    expect(reply.inReplyTo).toBe(id);
    expect(reply.sender).toBe('echo');
    expect(reply.message.traceContext).toEqual(handle.conversation.traceContext);
    expect(handle.getState().phase).toBe('active');
  });

  it('ask resolves with the reply to its own message, even when replies arrive out of order', async () => {
    const slow = gated('worker');
    const fast = gated('other');
    const handle = await openConversation({ participants: [slow.spec, fast.spec], onCrash: 'fail', mode: 'ephemeral' });
    const first = handle.ask('a', { timeoutMs: 1000 });
    const second = handle.ask('b', { timeoutMs: 1000 });
    await until(() => slow.started.length === 1 && fast.started.length === 1);
    fast.gates.get('b')!.resolve('reply-b');
    slow.gates.get('a')!.resolve('reply-a');
    expect((await first).message.payload).toBe('reply-a');
    expect((await second).message.payload).toBe('reply-b');
  });

  it('receive rejects with TimeoutError when nothing arrives before the deadline', async () => {
    vi.useFakeTimers();
    try {
      const handle = await openConversation({ participants: [], onCrash: 'fail', mode: 'ephemeral' });
      const pending = handle.receive({ timeoutMs: 500 });
      const assertion = expect(pending).rejects.toMatchObject({ code: 'TIMEOUT', operation: 'receive', timeoutMs: 500 });
      await vi.advanceTimersByTimeAsync(500);
      await assertion;
      await expect(pending).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ask rejects with TimeoutError when no reply comes, and a late reply goes to receive', async () => {
    vi.useFakeTimers();
    try {
      const worker = gated('worker');
      const handle = await openConversation({ participants: [worker.spec], onCrash: 'fail', mode: 'ephemeral' });
      const pending = handle.ask('q', { timeoutMs: 200 });
      const assertion = expect(pending).rejects.toMatchObject({ code: 'TIMEOUT', operation: 'ask' });
      await vi.advanceTimersByTimeAsync(200);
      await assertion;
      worker.gates.get('q')!.resolve('late');
      await vi.advanceTimersByTimeAsync(0);
      expect((await handle.receive({ timeoutMs: 10 })).message.payload).toBe('late');
    } finally {
      vi.useRealTimers();
    }
  });

  it('close waits for in-flight messages, then receive drains and finally rejects with ConversationClosedError', async () => {
    const worker = gated('worker');
    const handle = await openConversation({ participants: [worker.spec], onCrash: 'fail', mode: 'ephemeral' });
    handle.send('one');
    handle.send('two');
    let closed = false;
    const closing = handle.close().then(() => (closed = true));
    await until(() => worker.started.length === 1);
    expect(handle.getState().phase).toBe('completing');
    expect(() => handle.send('three')).toThrow(ConversationClosedError);
    worker.gates.get('one')!.resolve('r1');
    await until(() => worker.started.length === 2);
    expect(closed).toBe(false);
    worker.gates.get('two')!.resolve('r2');
    await closing;
    expect(handle.getState().phase).toBe('closed');
    expect((await handle.receive()).message.payload).toBe('r1');
    expect((await handle.receive()).message.payload).toBe('r2');
    await expect(handle.receive()).rejects.toBeInstanceOf(ConversationClosedError);
    await expect(handle.receive()).rejects.toMatchObject({ code: 'CONVERSATION_CLOSED' });
  });

  it('a receive pending at close is rejected with ConversationClosedError', async () => {
    const handle = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
    const pending = handle.receive();
    await handle.close();
    await expect(pending).rejects.toBeInstanceOf(ConversationClosedError);
  });

  it('closing twice is a no-op; closing a failed conversation rejects with from/to', async () => {
    const handle = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
    await handle.close();
    await handle.close();
    expect(handle.getState().phase).toBe('closed');

    const failing = await openConversation({
      participants: [participant('boom', fromPromise(async () => Promise.reject(new Error('boom'))))],
      onCrash: 'fail',
      mode: 'ephemeral',
    });
    failing.send('x');
    await until(() => failing.getState().phase === 'failed');
    const error = await failing.close().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect(error).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'invalidTransition', from: 'failed', to: 'completing' });
    expect(failing.getState().phase).toBe('failed');
  });

  it('messages from many concurrent handles reach the participant in send order per sender', async () => {
    const seen: { sender: string; payload: number }[] = [];
    const recorder = participant(
      'recorder',
      fromPromise<undefined, ParticipantInput<number>>(async ({ input }) => {
        seen.push({ sender: input.envelope.sender, payload: input.payload });
        await tick();
        return undefined;
      }),
    );
    const first = await openConversation({ participants: [recorder], onCrash: 'fail', mode: 'ephemeral' });
    const handles = [first, ...Array.from({ length: 4 }, (_, i) => first.withSender(`sender-${i}`))];
    const perSender = 25;
    await Promise.all(
      handles.map(async (handle) => {
        for (let n = 0; n < perSender; n++) {
          handle.send(n);
          if (n % 3 === 0) await tick(); // interleave the senders
        }
      }),
    );
    await first.close();
    expect(seen).toHaveLength(handles.length * perSender);
    for (const handle of handles) {
      expect(seen.filter((entry) => entry.sender === handle.sender).map((entry) => entry.payload)).toEqual(
        Array.from({ length: perSender }, (_, n) => n),
      );
    }
    const sentLog = first.getState().log.filter((entry) => entry.kind === 'sent');
    expect(sentLog).toHaveLength(handles.length * perSender);
  });

  it('property: any interleaving of sends across handles and participants keeps each sender\'s order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ sender: fc.integer({ min: 0, max: 3 }), pause: fc.boolean() }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 3 }),
        async (schedule, participantCount) => {
          const seen: { sender: string; payload: number }[] = [];
          const participants = Array.from({ length: participantCount }, (_, i) =>
            participant(
              `p${i}`,
              fromPromise<undefined, ParticipantInput<number>>(async ({ input }) => {
                seen.push({ sender: input.envelope.sender, payload: input.payload });
                return undefined;
              }),
            ),
          );
          const first = await openConversation({ participants, onCrash: 'fail', mode: 'ephemeral' });
          const handles = [first, first.withSender('b'), first.withSender('c'), first.withSender('d')];
          const counters = [0, 0, 0, 0];
          for (const { sender, pause } of schedule) {
            handles[sender]!.send(counters[sender]!++);
            if (pause) await tick();
          }
          await first.close();
          expect(seen).toHaveLength(schedule.length);
          handles.forEach((handle, index) => {
            const payloads = seen.filter((entry) => entry.sender === handle.sender).map((entry) => entry.payload);
            expect(payloads).toEqual(Array.from({ length: counters[index]! }, (_, n) => n));
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('callback and machine logic can be participants', async () => {
    const callback = participant(
      'callback',
      fromCallback<{ type: string }, ParticipantInput<string>>(({ input, sendBack }) => {
        sendBack(turnCompleted(input, `cb:${input.payload}`));
      }),
    );
    const machine = participant(
      'machine',
      createMachine({
        types: {} as { input: ParticipantInput<string>; context: { payload: string } },
        context: ({ input }) => ({ payload: input.payload }),
        initial: 'done',
        states: { done: { type: 'final' } },
        output: ({ context }) => `machine:${context.payload}`,
      }),
    );
    const handle = await openConversation({ participants: [callback, machine], onCrash: 'fail', mode: 'ephemeral' });
    const replies = await Promise.all([handle.ask('a', { timeoutMs: 1000 }), handle.ask('b', { timeoutMs: 1000 })]);
    expect(replies.map((reply) => reply.message.payload)).toEqual(['cb:a', 'machine:b']);
  });

  it('finished and crashed turns leave no child actors behind', async () => {
    const flaky = participant(
      'flaky',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        if (input.payload === 'crash') throw new Error('crash');
        return 'ok';
      }),
    );
    const handle = await openConversation({ participants: [flaky, echo], onCrash: 'routeToNext', mode: 'ephemeral' });
    for (const payload of ['a', 'b', 'crash', 'd']) await handle.ask(payload, { timeoutMs: 1000 });
    expect(handle.getState().log.filter((entry) => entry.kind === 'participantCrashed')).toHaveLength(1);
    expect(Object.keys(handle.actor.getSnapshot().children)).toEqual([]);
  });

  it('rejects a bad configuration with ConfigError before anything starts or is stored', async () => {
    const store = new MemoryStore();
    const bad: unknown[] = [
      { participants: [echo, echo], onCrash: 'fail', mode: 'ephemeral' },
      { participants: [echo], onCrash: 'fail', mode: 'ephemeral', timeoutMs: -1 },
      { participants: [echo], onCrash: 'fail', mode: 'ephemeral', timeoutMs: 1.5 },
      { participants: [echo], onCrash: 'retry', mode: 'ephemeral' },
      { participants: [echo], mode: 'ephemeral' },
      { participants: [echo], onCrash: 'fail', mode: 'eventual' },
      { participants: [echo], onCrash: 'fail', mode: 'durable' },
      { participants: [{ id: '', logic: echo.logic }], onCrash: 'fail', mode: 'ephemeral' },
      { participants: [{ id: 'no-logic' }], onCrash: 'fail', mode: 'ephemeral' },
      { participants: 'echo', onCrash: 'fail', mode: 'ephemeral' },
      { id: '', participants: [echo], onCrash: 'fail', mode: 'durable', store },
    ];
    for (const options of bad) {
      await expect(openConversation(options as ConversationOptions), JSON.stringify(options)).rejects.toBeInstanceOf(ConfigError);
    }
    expect(await store.listStreams('')).toEqual([]);
  });

  it('rejects a bad timeoutMs or messageId with InvalidArgumentError, and sends nothing', async () => {
    const handle = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
    for (const timeoutMs of [-1, Number.NaN, 0.5, Number.POSITIVE_INFINITY]) {
      await expect(handle.receive({ timeoutMs })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(handle.receive(timeoutMs)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(handle.ask('x', { timeoutMs })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'timeoutMs' });
    }
    await expect(handle.ask('x', { messageId: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'messageId' });
    const worker = gated('worker');
    const busy = await openConversation({ participants: [worker.spec], onCrash: 'fail', mode: 'ephemeral' });
    const first = busy.ask('q', { messageId: 'same' });
    await expect(busy.ask('q again', { messageId: 'same' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'messageId' });
    await until(() => worker.started.length === 1);
    worker.gates.get('q')!.resolve('answer');
    expect((await first).message.payload).toBe('answer');
    expect(worker.started).toEqual(['q']);
    expect(() => handle.send('x', { messageId: 7 as unknown as string })).toThrow(InvalidArgumentError);
    expect(handle.getState().log).toEqual([]);
    expect(handle.getState().phase).toBe('created');
  });

  it('receive(ms) and ask(message, ms) take the deadline as a bare number too', async () => {
    vi.useFakeTimers();
    try {
      const handle = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
      expect((await handle.ask('n', 1000)).message.payload).toBe('echo:n');
      const pending = handle.receive(300);
      const assertion = expect(pending).rejects.toMatchObject({ code: 'TIMEOUT', operation: 'receive', timeoutMs: 300 });
      await vi.advanceTimersByTimeAsync(300);
      await assertion;
    } finally {
      vi.useRealTimers();
    }
  });
});
