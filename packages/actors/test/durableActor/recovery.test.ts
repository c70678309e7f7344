import { codec } from '@liminal/durability';
import { MemoryStore, StoreUnavailableError } from '@liminal/store';
import { assign, sendTo, setup, spawnChild } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ActorStoppedError, createDurableActor } from '../../src/index.js';

const counter = setup({}).createMachine({
  id: 'counter',
  initial: 'counting',
  context: { n: 0 },
  states: { counting: { on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } } },
});

async function counted(store: MemoryStore, events: number, snapshotEvery: number): Promise<void> {
  const actor = await createDurableActor(counter, { store, id: 'c', snapshotEvery });
  for (let i = 0; i < events; i++) await actor.send({ type: 'inc' });
  await actor.stop();
}

describe('recovery', () => {
  it('reports where it came from: created, snapshot (with the entries replayed after it) or journal', async () => {
    const store = new MemoryStore();
    const created = await createDurableActor(counter, { store, id: 'c', snapshotEvery: 4 });
    expect(created.recovery).toEqual({ source: 'created', replayed: 0 });
    for (let i = 0; i < 6; i++) await created.send({ type: 'inc' });
    await created.stop();
    const fromSnapshot = await createDurableActor(counter, { store, id: 'c', snapshotEvery: 4 });
    expect(fromSnapshot.recovery.source).toBe('snapshot');
    expect(fromSnapshot.recovery.replayed).toBeLessThan(4);
    expect(fromSnapshot.getSnapshot().context.n).toBe(6);
    await fromSnapshot.stop();
    const other = new MemoryStore();
    await counted(other, 3, 1000);
    const replayed = await createDurableActor(counter, { store: other, id: 'c' });
    expect(replayed.recovery).toEqual({ source: 'journal', replayed: 3 });
    await replayed.stop();
  });

  it('a damaged snapshot is set aside and the journal replayed (the journal is the truth)', async () => {
    const store = new MemoryStore();
    await counted(store, 5, 2);
    const count = await store.streamLength('actor/c/snapshots');
    await store.append('actor/c/snapshots', Uint8Array.of(0x4c, 1, 0x40, 0xff), count);
    const actor = await createDurableActor(counter, { store, id: 'c' });
    expect(actor.getSnapshot().context.n).toBe(5);
    expect(actor.recovery.source).toBe('journal');
    expect(actor.recovery.rejectedSnapshot).toMatch(/truncated/);
    await actor.stop();
  });

  it('a snapshot XState cannot restore (its state is not in the machine) falls back to replaying the journal', async () => {
    const store = new MemoryStore();
    await counted(store, 5, 2);
    const count = await store.streamLength('actor/c/snapshots');
    const last = (await store.readFrom('actor/c/snapshots', count - 1, 1))[0]!.payload;
    const record = JSON.parse(new TextDecoder().decode(codec.decodeAs(last, 'actorRecord').payload)) as { persisted: { value: unknown } };
    record.persisted.value = 'renamedAway';
    await store.append('actor/c/snapshots', codec.encode({ kind: 'actorRecord', payload: new TextEncoder().encode(JSON.stringify(record)) }), count);
    const actor = await createDurableActor(counter, { store, id: 'c' });
    expect(actor.getSnapshot().value).toBe('counting');
    expect(actor.getSnapshot().context.n).toBe(5);
    expect(actor.recovery).toMatchObject({ source: 'journal', replayed: expect.any(Number), rejectedSnapshot: expect.stringMatching(/XState/) });
    await actor.send({ type: 'inc' });
    expect(actor.getSnapshot().context.n).toBe(6);
    await actor.stop();
  });

  it('no snapshot is taken while a child spawned from inline logic lives (XState cannot restore one); the journal still restores it', async () => {
    const store = new MemoryStore();
    const inline = setup({}).createMachine({ id: 'inline', context: { n: 0 }, on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });
    const machine = setup({}).createMachine({
      id: 'host',
      on: { spawn: { actions: spawnChild(inline, { id: 'kid' }) as never }, inc: { actions: sendTo('kid', { type: 'inc' }) as never } },
    });
    const actor = await createDurableActor(machine, { store, id: 'h', snapshotEvery: 1 });
    await actor.send({ type: 'spawn' });
    await actor.send({ type: 'inc' });
    await actor.send({ type: 'inc' });
    await actor.stop();
    const snapshots = await store.streamLength('actor/h/snapshots');
    const reopened = await createDurableActor(machine, { store, id: 'h', snapshotEvery: 1 });
    expect(((reopened.getSnapshot().children as Record<string, unknown>)['kid'] as { getSnapshot(): { context: unknown } }).getSnapshot().context).toEqual({ n: 2 });
    expect(reopened.recovery).toEqual({ source: 'journal', replayed: 3 });
    await reopened.send({ type: 'inc' });
    expect(await store.streamLength('actor/h/snapshots')).toBe(snapshots);
    expect(snapshots).toBe(0);
    await reopened.stop();
  });

  it('a failed journal write breaks the actor: that send and every later one reject, nothing is processed', async () => {
    const store = new MemoryStore();
    let failing = false;
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        if ((property === 'append' || property === 'appendMany') && failing) return async () => { throw new StoreUnavailableError('connection lost', { ambiguous: true }); };
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const actor = await createDurableActor(counter, { store: flaky, id: 'c' });
    await actor.send({ type: 'inc' });
    failing = true;
    const error = await actor.send({ type: 'inc' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect(error).toMatchObject({ code: 'ACTOR_STOPPED', status: 'broken', cause: expect.any(StoreUnavailableError) });
    failing = false;
    await expect(actor.send({ type: 'inc' })).rejects.toMatchObject({ status: 'broken' });
    expect(actor.status).toBe('broken');
    expect(actor.getSnapshot().context.n).toBe(1);
    await actor.stop();
    const reopened = await createDurableActor(counter, { store, id: 'c' });
    expect(reopened.getSnapshot().context.n).toBe(1);
    await reopened.stop();
  });
});
