import { MemoryStore } from '@liminal/store';
import fc from 'fast-check';
import { assign, sendParent, sendTo, setup, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@liminal/testkit';
import { createDurableActor, type DurableActor } from '../../src/index.js';
import { settle } from './runner.js';

// A machine with guards, timers (after + delayed sendTo by id), parallel
// regions, a history state and an invoked child.
const pinger = setup({}).createMachine({
  id: 'pinger',
  context: { pings: 0 },
  on: {
    ping: { actions: [assign({ pings: ({ context }) => context.pings + 1 }), sendParent({ type: 'pong' }, { delay: 300, id: 'pong' } as never)] },
  },
});

const machine = setup({ actors: { pinger }, guards: { roomLeft: ({ context }) => context.count < 4 } }).createMachine({
  id: 'prop',
  type: 'parallel',
  context: { count: 0, pongs: 0, timeouts: 0 },
  invoke: { src: 'pinger', id: 'pinger', systemId: 'pinger' },
  on: {
    ping: { actions: sendTo('pinger', { type: 'ping' }) },
    pong: { actions: assign({ pongs: ({ context }) => context.pongs + 1 }) },
  },
  states: {
    work: {
      initial: 'idle',
      states: {
        idle: { on: { start: 'running' } },
        running: {
          initial: 'a',
          after: { 1000: { target: 'idle', actions: assign({ timeouts: ({ context }) => context.timeouts + 1 }) } },
          on: { pause: 'paused' },
          states: { a: { on: { flip: 'b' } }, b: { on: { flip: 'a' } }, hist: { type: 'history' } },
        },
        paused: { on: { resume: 'running.hist' } },
      },
    },
    tally: {
      initial: 'open',
      states: {
        open: { on: { inc: [{ guard: 'roomLeft', actions: assign({ count: ({ context }) => context.count + 1 }) }, { target: 'full' }] } },
        full: { on: { reset: { target: 'open', actions: assign({ count: 0 }) } } },
      },
    },
  },
});

type Command = { readonly kind: 'send'; readonly type: string } | { readonly kind: 'advance'; readonly ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.constantFrom('inc', 'reset', 'start', 'pause', 'resume', 'flip', 'ping').map((type) => ({ kind: 'send' as const, type })),
  fc.integer({ min: 0, max: 1500 }).map((ms) => ({ kind: 'advance' as const, ms })),
);

function observe(actor: DurableActor<AnyStateMachine>) {
  const snapshot = actor.getSnapshot();
  const child = snapshot.children['pinger'] as { getSnapshot(): { context: unknown; status: string } } | undefined;
  return { value: snapshot.value, context: snapshot.context, status: snapshot.status, pinger: child?.getSnapshot().context };
}

async function run(actor: DurableActor<AnyStateMachine>, command: Command, clock: ManualClock): Promise<void> {
  if (command.kind === 'send') await actor.send({ type: command.type });
  else clock.advance(command.ms);
  await settle(actor);
}

describe('restore is invisible', () => {
  it('after a crash at random points, the reopened actor has the uninterrupted actor’s snapshot at that point, and both go on alike', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(commandArb, { minLength: 1, maxLength: 16 }),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        fc.constantFrom(1, 3, 1000),
        async (commands, crashAfter, snapshotEvery) => {
          const reference = { store: new MemoryStore(), clock: new ManualClock() };
          const crashing = { store: new MemoryStore(), clock: new ManualClock() };
          const uninterrupted = await createDurableActor(machine, { store: reference.store, id: 'p', clock: reference.clock, snapshotEvery });
          let actor = await createDurableActor(machine, { store: crashing.store, id: 'p', clock: crashing.clock, snapshotEvery });
          for (const [index, command] of commands.entries()) {
            await run(uninterrupted, command, reference.clock);
            await run(actor, command, crashing.clock);
            if (crashAfter[index]) {
              // The process dies: this instance journals nothing more; a new one opens the id.
              await actor.stop();
              actor = await createDurableActor(machine, { store: crashing.store, id: 'p', clock: crashing.clock, snapshotEvery });
              crashing.clock.advance(0);
              await settle(actor);
            }
            expect(observe(actor)).toEqual(observe(uninterrupted));
          }
          await actor.stop();
          await uninterrupted.stop();
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
