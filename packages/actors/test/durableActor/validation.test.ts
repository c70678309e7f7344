import { codec } from '@liminal/durability';
import { DecodeError, InvalidArgumentError, MemoryStore } from '@liminal/store';
import { assign, emit, fromPromise, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@liminal/testkit';
import { ActorStoppedError, createDurableActor, JournalMismatchError, VersionMismatchError } from '../../src/index.js';

const journal = (id: string) => `actor/${id}/journal`;

function counting() {
  const calls = { entry: 0 };
  const machine = setup({ actions: { enter: () => void calls.entry++ } }).createMachine({
    id: 'counter',
    context: { n: 0 },
    entry: 'enter',
    on: { inc: { actions: [assign({ n: ({ context }) => context.n + 1 }), 'enter'] } },
  });
  return { calls, machine };
}

describe('createDurableActor refuses bad input before anything is journaled', () => {
  it('logic that is not a state machine, an empty id, a bad snapshotEvery or version', async () => {
    const store = new MemoryStore();
    const { machine } = counting();
    await expect(createDurableActor(fromPromise(async () => 1) as never, { store, id: 'a' })).rejects.toThrow(InvalidArgumentError);
    await expect(createDurableActor({} as never, { store, id: 'a' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'machine' });
    await expect(createDurableActor(machine, { store, id: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'id' });
    await expect(createDurableActor(machine, { store, id: 'a', snapshotEvery: 0 })).rejects.toMatchObject({ argument: 'snapshotEvery' });
    await expect(createDurableActor(machine, { store, id: 'a', version: 3 as never })).rejects.toMatchObject({ argument: 'version' });
    await expect(createDurableActor(machine, { store, id: 'a', input: { big: 1n } as never })).rejects.toMatchObject({ argument: 'input' });
    expect(await store.listStreams('')).toEqual([]);
  });

  it('an event that is not an object with a string type, or not JSON', async () => {
    const store = new MemoryStore();
    const { machine } = counting();
    const actor = await createDurableActor(machine, { store, id: 'a' });
    const length = await store.streamLength(journal('a'));
    for (const bad of [null, 'inc', 42, {}, { type: 7 }, { type: 'inc', n: 1n }]) {
      await expect(actor.send(bad as never)).rejects.toThrow(InvalidArgumentError);
    }
    const cyclic: Record<string, unknown> = { type: 'inc' };
    cyclic['self'] = cyclic;
    await expect(actor.send(cyclic as never)).rejects.toThrow(InvalidArgumentError);
    expect(await store.streamLength(journal('a'))).toBe(length);
    expect(actor.getSnapshot().context.n).toBe(0);
    await actor.stop();
  });

  it('a journal written by another machine id: JournalMismatchError, nothing run or written', async () => {
    const store = new MemoryStore();
    const { machine } = counting();
    await (await createDurableActor(machine, { store, id: 'a' })).stop();
    const length = await store.streamLength(journal('a'));
    const other = setup({}).createMachine({ id: 'other' });
    const error = await createDurableActor(other, { store, id: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalMismatchError);
    expect(error).toMatchObject({ code: 'JOURNAL_MISMATCH', recordedMachineId: 'counter', machineId: 'other' });
    expect(await store.streamLength(journal('a'))).toBe(length);
  });

  it('another version without a matching entry in versions: VersionMismatchError, nothing run; with it, the old definition keeps running', async () => {
    const store = new MemoryStore();
    const v1 = counting();
    const first = await createDurableActor(v1.machine, { store, id: 'a', version: 'v1' });
    await first.send({ type: 'inc' });
    await first.stop();
    const length = await store.streamLength(journal('a'));
    const v2 = counting();
    const error = await createDurableActor(v2.machine, { store, id: 'a', version: 'v2' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VersionMismatchError);
    expect(error).toMatchObject({ code: 'VERSION_MISMATCH', actorId: 'a', recorded: 'v1', requested: 'v2', known: [] });
    expect(v2.calls.entry).toBe(0);
    expect(await store.streamLength(journal('a'))).toBe(length);
    await expect(createDurableActor(v2.machine, { store, id: 'a' })).rejects.toMatchObject({ recorded: 'v1', requested: null });

    const old = counting();
    const reopened = await createDurableActor(v2.machine, { store, id: 'a', version: 'v2', versions: { v1: old.machine } });
    expect(reopened.version).toBe('v1');
    expect(reopened.getSnapshot().context.n).toBe(1);
    await reopened.send({ type: 'inc' });
    expect(old.calls.entry).toBe(1); // only the new event's action ran, on the v1 definition
    expect(v2.calls.entry).toBe(0);
    await reopened.stop();
  });

  it('a journal that fails to decode: DecodeError, nothing run or written', async () => {
    const store = new MemoryStore();
    const { machine, calls } = counting();
    const actor = await createDurableActor(machine, { store, id: 'a' });
    await actor.send({ type: 'inc' });
    await actor.stop();
    const before = calls.entry;
    for (const garbage of [Uint8Array.of(1, 2, 3), codec.encode({ kind: 'actorRecord', payload: new TextEncoder().encode('{"kind":"event"}') }), codec.encode({ kind: 'processingStarted', messageId: 'm' })]) {
      const damaged = new MemoryStore();
      for (const entry of await store.readFrom(journal('a'), 0, 100)) await damaged.append(journal('a'), entry.payload, entry.sequence);
      const length = await damaged.streamLength(journal('a'));
      await damaged.append(journal('a'), garbage, length);
      await expect(createDurableActor(machine, { store: damaged, id: 'a' })).rejects.toThrow(DecodeError);
      expect(await damaged.streamLength(journal('a'))).toBe(length + 1);
    }
    expect(calls.entry).toBe(before);
  });
});

describe('an actor that no longer takes events', () => {
  it('refuses sends once done or stopped with ActorStoppedError, journaling nothing', async () => {
    const store = new MemoryStore();
    const machine = setup({}).createMachine({ id: 'once', initial: 'open', states: { open: { on: { finish: 'done' } }, done: { type: 'final' } } });
    const actor = await createDurableActor(machine, { store, id: 'o' });
    await actor.send({ type: 'finish' });
    expect(actor.status).toBe('done');
    const length = await store.streamLength('actor/o/journal');
    await expect(actor.send({ type: 'finish' })).rejects.toMatchObject({ code: 'ACTOR_STOPPED', status: 'done' });
    await actor.stop();
    const reopened = await createDurableActor(machine, { store, id: 'o' });
    expect(reopened.status).toBe('done');
    await expect(reopened.send({ type: 'finish' })).rejects.toThrow(ActorStoppedError);
    await reopened.stop();
    const other = await createDurableActor(machine, { store, id: 'p' });
    await other.stop();
    await expect(other.send({ type: 'finish' })).rejects.toMatchObject({ status: 'stopped' });
    expect(await store.streamLength('actor/o/journal')).toBe(length + 1); // only the reopening's ownership mark
  });
});

describe('actor ids', () => {
  it('any non-empty id names its own streams: ids containing / or % never share a journal', async () => {
    const store = new MemoryStore();
    const { machine } = counting();
    const ids = ['a', 'a/journal', 'a%2Fjournal', 'actor/a'];
    for (const [index, id] of ids.entries()) {
      const actor = await createDurableActor(machine, { store, id });
      for (let i = 0; i < index; i++) await actor.send({ type: 'inc' });
      await actor.stop();
    }
    for (const [index, id] of ids.entries()) {
      const actor = await createDurableActor(machine, { store, id });
      expect(actor.getSnapshot().context.n).toBe(index);
      await actor.stop();
    }
    expect(new Set(await store.listStreams('actor/')).size).toBe(ids.length);
  });
});

describe('replay runs no action', () => {
  it('custom and inline actions and emit run once, live; reopening re-runs none of them', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const counts = { custom: 0, emitted: 0 };
    const machine = setup({ actions: { custom: () => void counts.custom++ } }).createMachine({
      id: 'effects',
      initial: 'a',
      entry: 'custom',
      states: {
        a: { on: { go: { target: 'b', actions: ['custom', emit({ type: 'went' })] } } },
        b: { entry: ['custom', () => void counts.custom++], after: { 100: 'a' } },
      },
    });
    const actor = await createDurableActor(machine, { store, id: 'fx', clock });
    actor.on('went', () => void counts.emitted++);
    for (let i = 0; i < 5; i++) {
      await actor.send({ type: 'go' });
      clock.advance(100);
      await actor.flush();
    }
    await actor.stop();
    const live = { ...counts };
    expect(live).toEqual({ custom: 1 + 5 * 3, emitted: 5 });
    for (let i = 0; i < 3; i++) {
      const reopened = await createDurableActor(machine, { store, id: 'fx', clock });
      reopened.on('went', () => void counts.emitted++);
      expect(reopened.getSnapshot().value).toBe('a');
      await reopened.stop();
    }
    expect(counts).toEqual(live);
  });
});
