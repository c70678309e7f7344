import { MemoryStore } from '@liminal/store';
import { assign, fromPromise, sendTo, setup, sendParent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@liminal/testkit';
import { createDurableActor } from '../../src/index.js';

describe('smoke', () => {
  it.each([1000, 1, 2])('journals, replays without actions, restores timers and children (snapshotEvery %i)', async (snapshotEvery) => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    let entries = 0;
    const child = setup({}).createMachine({
      id: 'child', initial: 'idle', context: { n: 0 },
      states: { idle: { on: { ping: { actions: [assign({ n: ({ context }) => context.n + 1 }), sendParent({ type: 'pong' })] } } } },
    });
    const machine = setup({
      actions: { count: () => { entries++; } },
      actors: { child, work: fromPromise(async () => 42) },
    }).createMachine({
      id: 'm', initial: 'a', context: { pongs: 0, out: 0 },
      invoke: { src: 'child', id: 'kid', systemId: 'kid' },
      states: {
        a: { entry: 'count', on: { go: 'b' } },
        b: {
          entry: ['count', sendTo('kid', { type: 'ping' })],
          after: { 1000: 'c' },
          on: { pong: { actions: assign({ pongs: ({ context }) => context.pongs + 1 }) } },
        },
        c: { entry: 'count', invoke: { src: 'work', onDone: { target: 'd', actions: assign({ out: ({ event }) => event.output }) } } },
        d: { type: 'final' },
      },
    });
    const a1 = await createDurableActor(machine, { store, id: 'x', clock, snapshotEvery });
    await a1.send({ type: 'go' });
    expect(a1.getSnapshot().value).toBe('b');
    expect(a1.getSnapshot().context.pongs).toBe(1);
    expect(entries).toBe(2);
    await a1.stop();
    if (snapshotEvery === 1) expect(await store.streamLength('actor/x/snapshots')).toBeGreaterThan(0);
    const a2 = await createDurableActor(machine, { store, id: 'x', clock, snapshotEvery });
    expect(entries).toBe(2);
    expect(a2.getSnapshot().value).toBe('b');
    expect(a2.getSnapshot().context.pongs).toBe(1);
    expect((a2.system.get('kid')?.getSnapshot() as { context: { n: number } }).context.n).toBe(1);
    clock.advance(1000);
    await a2.flush();
    await new Promise((r) => setTimeout(r, 10));
    await a2.flush();
    expect(a2.getSnapshot().value).toBe('d');
    expect(a2.getSnapshot().context.out).toBe(42);
    expect(a2.status).toBe('done');
    expect(entries).toBe(3);
    await a2.stop();
    const a3 = await createDurableActor(machine, { store, id: 'x', clock, snapshotEvery });
    expect(a3.getSnapshot().status).toBe('done');
    expect(entries).toBe(3);
  });
});
