import { MemoryStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { fromPromise, SimulatedClock } from 'xstate';
import {
  ConversationClosedError,
  ConversationFailedError,
  openConversation,
  participant,
  VersionMismatchError,
  type ConversationHandle,
  type ParticipantInput,
} from '../src/index.js';

/** What a reopen must give back: everything `getState()` shows but the live turn count. */
function persisted(handle: ConversationHandle) {
  const { id, phase, participants, log, failure } = handle.getState();
  return JSON.parse(
    JSON.stringify({ id, phase, participants, log, failure: failure && { reason: failure.reason } }, (_key, value: unknown) =>
      value instanceof Error ? `${value.name}: ${value.message}` : value,
    ),
  ) as unknown;
}

const echo = (tag: string) => participant(tag, fromPromise<string, ParticipantInput<string>>(async ({ input }) => `${tag}:${await input.steps.step('echo', () => input.payload)}`));
const crashing = participant('flaky', fromPromise<string, ParticipantInput<string>>(async () => {
  throw new Error('flaky is down');
}));

describe('a durable conversation reopens as it was', () => {
  it('an active conversation comes back active with its log and its participants health', async () => {
    const store = new MemoryStore();
    const options = { id: 'c', mode: 'durable', store, onCrash: 'routeToNext', participants: [crashing, echo('steady')] } as const;
    const first = await openConversation(options);
    expect((await first.ask('hello', { messageId: 'm1', timeoutMs: 5000 })).message.payload).toBe('steady:hello');
    const before = persisted(first);
    expect(before).toMatchObject({ phase: 'active', participants: [{ participant: 'flaky', health: { kind: 'dead' } }, { participant: 'steady', health: { kind: 'alive' } }] });
    expect((before as { log: unknown[] }).log.map((entry) => (entry as { kind: string }).kind)).toEqual(['sent', 'participantCrashed', 'received']);

    const reopened = await openConversation(options);
    expect(persisted(reopened)).toEqual(before);
    // It goes on from there: the dead participant stays dead.
    expect((await reopened.ask('again', { messageId: 'm2', timeoutMs: 5000 })).message.payload).toBe('steady:again');
  });

  it('a closed conversation reopens closed: send throws ConversationClosedError and nothing is written', async () => {
    const store = new MemoryStore();
    const options = { id: 'c', mode: 'durable', store, onCrash: 'fail', participants: [echo('a')] } as const;
    const first = await openConversation(options);
    await first.ask('x', { messageId: 'm1', timeoutMs: 5000 });
    await first.close();
    const length = await store.streamLength('c');
    const reopened = await openConversation(options);
    expect(persisted(reopened)).toEqual(persisted(first));
    expect(reopened.getState().phase).toBe('closed');
    expect(() => reopened.send('y')).toThrow(ConversationClosedError);
    await reopened.close(); // a no-op on a closed conversation
    expect(await store.streamLength('c')).toBe(length);
  });

  it('a failed conversation reopens failed with its reason: send throws ConversationFailedError', async () => {
    const store = new MemoryStore();
    const options = { id: 'c', mode: 'durable', store, onCrash: 'fail', participants: [crashing] } as const;
    const first = await openConversation(options);
    await expect(first.ask('x', { messageId: 'm1', timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'participantCrashed' });
    const reopened = await openConversation(options);
    expect(persisted(reopened)).toEqual(persisted(first));
    expect(reopened.getState().failure).toEqual({ reason: 'participantCrashed', cause: 'Error: flaky is down' });
    expect(() => reopened.send('y')).toThrow(ConversationFailedError);
    await expect(reopened.receive({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'participantCrashed' });
  });

  it('the timeout deadline is recorded at creation: a reopen does not restart it, and the timeout failure is recorded', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    const options = { id: 'c', mode: 'durable', store, onCrash: 'fail', participants: [echo('a')], timeoutMs: 1000 } as const;
    const first = await openConversation({ ...options, clock, now: () => clock.now() });
    await first.ask('x', { messageId: 'm1', timeoutMs: 5000 });
    clock.increment(600);
    expect(first.getState().phase).toBe('active');

    // The process restarts 600 ms in: 400 ms are left, not 1000.
    const later = new SimulatedClock();
    later.set(600);
    const reopened = await openConversation({ ...options, timeoutMs: 60_000, clock: later, now: () => later.now() });
    later.increment(399);
    expect(reopened.getState().phase).toBe('active');
    later.increment(1);
    expect(reopened.getState()).toMatchObject({ phase: 'failed', failure: { reason: 'timeout' } });
    await expect(reopened.receive({ timeoutMs: 1000 })).rejects.toMatchObject({ reason: 'timeout' }); // settles after the journal flush

    const third = await openConversation({ ...options, now: () => 10_000 });
    expect(third.getState()).toMatchObject({ phase: 'failed', failure: { reason: 'timeout' } });
  });

  it('an overdue deadline fails a reopened conversation at once', async () => {
    const store = new MemoryStore();
    const options = { id: 'c', mode: 'durable', store, onCrash: 'fail', participants: [echo('a')], timeoutMs: 1000 } as const;
    await openConversation({ ...options, now: () => 0 });
    const clock = new SimulatedClock();
    clock.set(5000);
    const reopened = await openConversation({ ...options, clock, now: () => clock.now() });
    clock.increment(0);
    expect(reopened.getState()).toMatchObject({ phase: 'failed', failure: { reason: 'timeout' } });
  });

  it('a durable payload JSON cannot hold is refused before it is sent', async () => {
    const handle = await openConversation({ mode: 'durable', store: new MemoryStore(), onCrash: 'fail', participants: [echo('a')] });
    expect(() => handle.send({ amount: 10n })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(handle.getState().log).toEqual([]);
  });
});

describe('versions', () => {
  const v1 = { participants: [participant('shop', fromPromise<string, ParticipantInput<string>>(async ({ input }) => `v1:${await input.steps.step('reserve', () => input.payload)}`))] };
  const v2 = { participants: [participant('shop', fromPromise<string, ParticipantInput<string>>(async ({ input }) => `v2:${await input.steps.step('fraudCheck', () => input.payload)}`))] };

  it('a reopened conversation runs on the definition it started with; new ones start on the current version', async () => {
    const store = new MemoryStore();
    const old = await openConversation({ id: 'old', mode: 'durable', store, onCrash: 'fail', version: 'v1', versions: { v1 } });
    await old.ask('x', { messageId: 'first', timeoutMs: 5000 });
    const both = { mode: 'durable', store, onCrash: 'fail', version: 'v2', versions: { v1, v2 } } as const;
    const reopenedOld = await openConversation({ ...both, id: 'old' });
    const fresh = await openConversation({ ...both, id: 'new' });
    expect((await reopenedOld.ask('a', { messageId: 'm', timeoutMs: 5000 })).message.payload).toBe('v1:a');
    expect((await fresh.ask('a', { messageId: 'm', timeoutMs: 5000 })).message.payload).toBe('v2:a');
  });

  it('a journal of a version the process lacks is a VersionMismatchError: nothing runs or is written', async () => {
    const store = new MemoryStore();
    await openConversation({ id: 'c', mode: 'durable', store, onCrash: 'fail', version: 'v1', versions: { v1 } });
    const length = await store.streamLength('c');
    const error = await openConversation({ id: 'c', mode: 'durable', store, onCrash: 'fail', version: 'v2', versions: { v2 } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VersionMismatchError);
    expect(error).toMatchObject({ code: 'VERSION_MISMATCH', recorded: 'v1', requested: 'v2', known: ['v2'] });
    // Without `versions`, the top-level definition is version `version` (default '1').
    await expect(openConversation({ id: 'c', mode: 'durable', store, onCrash: 'fail', participants: v1.participants })).rejects.toMatchObject({ code: 'VERSION_MISMATCH', recorded: 'v1', requested: '1', known: ['1'] });
    expect(await store.streamLength('c')).toBe(length);
  });

  it('refuses contradictory options with ConfigError', async () => {
    const store = new MemoryStore();
    await expect(openConversation({ mode: 'durable', store, onCrash: 'fail', version: 'v3', versions: { v1 } })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(openConversation({ mode: 'durable', store, onCrash: 'fail', participants: v1.participants, versions: { v1 }, version: 'v1' })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(openConversation({ mode: 'durable', store, onCrash: 'fail', participants: v1.participants, version: '' })).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
