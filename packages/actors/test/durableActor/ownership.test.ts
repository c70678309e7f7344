import { MemoryStore } from '@liminal/store';
import { assign, fromPromise, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@liminal/testkit';
import { ActorFencedError, createDurableActor } from '../../src/index.js';
import { settle } from './runner.js';

function quoting() {
  const calls: string[] = [];
  const resolvers: ((price: number) => void)[] = [];
  const machine = setup({
    actors: {
      price: fromPromise<number, { item: string }>(({ input }) => {
        calls.push(input.item);
        return new Promise((resolve) => resolvers.push(resolve));
      }),
    },
  }).createMachine({
    id: 'quoting',
    initial: 'idle',
    context: { price: 0, bumps: 0 },
    on: { bump: { actions: assign({ bumps: ({ context }) => context.bumps + 1 }) } },
    states: {
      idle: { on: { quote: 'pricing' } },
      pricing: {
        invoke: { src: 'price', input: { item: 'lamp' }, onDone: { target: 'quoted', actions: assign({ price: ({ event }) => event.output }) } },
      },
      quoted: { type: 'final' },
    },
  });
  return { machine, calls, resolvers };
}

describe('one writer per durable actor', () => {
  it('a newer instance fences the older one: its writes fail with ActorFencedError and never reach the journal', async () => {
    const store = new MemoryStore();
    const { machine } = quoting();
    const first = await createDurableActor(machine, { store, id: 'q' });
    await first.send({ type: 'bump' });
    const second = await createDurableActor(machine, { store, id: 'q' });
    const length = await store.streamLength('actor/q/journal');
    const error = await first.send({ type: 'bump' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorFencedError);
    expect(error).toMatchObject({ code: 'ACTOR_FENCED', actorId: 'q' });
    expect(first.status).toBe('fenced');
    await expect(first.send({ type: 'bump' })).rejects.toThrow(ActorFencedError);
    expect(await store.streamLength('actor/q/journal')).toBe(length);
    await second.send({ type: 'bump' });
    expect(second.getSnapshot().context.bumps).toBe(2);
    await first.stop();
    await second.stop();
  });
});

describe('promise children', () => {
  it('one in flight when its process stopped is invoked again by the next owner (at least once); its result reaches the parent once', async () => {
    const store = new MemoryStore();
    const { machine, calls, resolvers } = quoting();
    const crashed = await createDurableActor(machine, { store, id: 'q' });
    await crashed.send({ type: 'quote' });
    expect(calls).toEqual(['lamp']);
    // The process "dies": the instance is dropped without stop(); a new one opens the id.
    const reopened = await createDurableActor(machine, { store, id: 'q' });
    expect(calls).toEqual(['lamp', 'lamp']);
    resolvers[1]!(42);
    await settle(reopened);
    expect(reopened.getSnapshot().value).toBe('quoted');
    expect(reopened.getSnapshot().context.price).toBe(42);
    // The first promise settles late: its instance is fenced, nothing is journaled.
    resolvers[0]!(13);
    await settle(crashed);
    expect(crashed.status).toBe('fenced');
    const again = await createDurableActor(machine, { store, id: 'q' });
    expect(again.getSnapshot().context.price).toBe(42);
    expect(calls).toHaveLength(2); // finished: not invoked again
    await again.stop();
    await reopened.stop();
  });

  it('a result journaled before the crash is not asked for again', async () => {
    const store = new MemoryStore();
    const { machine, calls, resolvers } = quoting();
    const actor = await createDurableActor(machine, { store, id: 'q' });
    await actor.send({ type: 'quote' });
    resolvers[0]!(7);
    await settle(actor);
    const reopened = await createDurableActor(machine, { store, id: 'q' });
    expect(reopened.getSnapshot().context.price).toBe(7);
    expect(calls).toEqual(['lamp']);
    await reopened.stop();
  });
});

describe('inspection', () => {
  it("XState's inspect option sees live events and snapshots (and every actor), not the replay", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const machine = setup({}).createMachine({ id: 'light', initial: 'green', states: { green: { on: { next: 'yellow' } }, yellow: { after: { 10: 'red' } }, red: {} } });
    const seen: string[] = [];
    const inspect = (event: { type: string; event?: { type: string } }) => {
      seen.push(event.type === '@xstate.event' ? `event ${event.event!.type}` : event.type);
    };
    const actor = await createDurableActor(machine, { store, id: 'l', clock, inspect });
    await actor.send({ type: 'next' });
    clock.advance(10);
    await settle(actor);
    expect(actor.getSnapshot().value).toBe('red');
    expect(seen).toContain('@xstate.actor');
    expect(seen).toContain('event next');
    expect(seen).toContain('event xstate.after.10.light.yellow');
    expect(seen.filter((type) => type === '@xstate.snapshot').length).toBeGreaterThanOrEqual(3);
    await actor.stop();
    const replayed: string[] = [];
    const reopened = await createDurableActor(machine, { store, id: 'l', clock, inspect: (event) => replayed.push(event.type) });
    expect(replayed).toEqual(['@xstate.actor']);
    await reopened.stop();
  });
});

describe('snapshots bound recovery', () => {
  it('a 100k-event actor reopens from its snapshot, replaying fewer entries than snapshotEvery', async () => {
    const store = new MemoryStore();
    const machine = setup({}).createMachine({
      id: 'tally',
      context: { n: 0 },
      on: { add: { actions: assign({ n: ({ context, event }) => context.n + (event as unknown as { by: number }).by }) } },
    });
    const actor = await createDurableActor(machine, { store, id: 't', snapshotEvery: 1000 });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 100_000; i++) sends.push(actor.send({ type: 'add', by: 1 } as never));
    await Promise.all(sends);
    await actor.stop();
    let read = 0;
    const counting = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'readFrom') {
          return async (...args: Parameters<MemoryStore['readFrom']>) => {
            const entries = await target.readFrom(...args);
            read += entries.length;
            return entries;
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const reopened = await createDurableActor(machine, { store: counting, id: 't' });
    expect(reopened.getSnapshot().context.n).toBe(100_000);
    expect(await store.streamLength('actor/t/journal')).toBeGreaterThan(100_000);
    expect(read).toBeLessThan(1000 + 2); // the creation record, the snapshot and the tail
    await reopened.stop();
  }, 60_000);
});
