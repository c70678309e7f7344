import { assign, cancel, emit, fromCallback, fromPromise, raise, sendParent, sendTo, setup, spawnChild, stopChild, type AnyStateMachine } from 'xstate';
import type { DurableActor } from '../../src/index.js';

/** Where a case's actions leave their side effects (a list in memory, or a file per case across processes). */
export interface Effects {
  record(effect: string): void;
}

export type Step =
  | { readonly send: { readonly type: string; readonly [key: string]: unknown } }
  | { readonly sendToSystem: string; readonly event: { readonly type: string; readonly [key: string]: unknown } }
  | { readonly advance: number };

/**
 * A conformance case: a machine, the steps a user takes, and what must be
 * true at the end. Each runs uninterrupted and, in `killed.test.ts`, with the
 * process killed (SIGKILL) after every step and the actor reopened in a new
 * one; both must give the same observation and the same effects.
 */
export interface ConformanceCase {
  readonly name: string;
  readonly machine: (effects: Effects) => AnyStateMachine;
  readonly input?: unknown;
  readonly steps: readonly Step[];
  /** Snapshot after this many journal entries (1: every restore goes through XState's snapshot restore). */
  readonly snapshotEvery?: number;
  readonly observe: (actor: DurableActor<AnyStateMachine>) => unknown;
  readonly expected: unknown;
  readonly effects: readonly string[];
}

const valueAndContext = (actor: DurableActor<AnyStateMachine>) => {
  const snapshot = actor.getSnapshot();
  return { value: snapshot.value, status: snapshot.status, context: snapshot.context };
};

const counter = setup({ types: { context: {} as { count: number }, input: {} as { start?: number } } }).createMachine({
  id: 'counter',
  context: ({ input }) => ({ count: input?.start ?? 0 }),
  on: {
    inc: { actions: [assign({ count: ({ context }) => context.count + 1 }), sendParent(({ context, self }) => ({ type: 'counted', id: self.id, count: context.count }))] },
  },
});

export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: 'actions run once',
    machine: (effects) =>
      setup({ actions: { note: (_, what: string) => effects.record(what) } }).createMachine({
        id: 'once',
        initial: 'a',
        context: { visits: 0 },
        states: {
          a: { entry: { type: 'note', params: 'enter a' }, on: { next: { target: 'b', actions: { type: 'note', params: 'a->b' } } } },
          b: {
            entry: [{ type: 'note', params: 'enter b' }, assign({ visits: ({ context }) => context.visits + 1 })],
            exit: { type: 'note', params: 'exit b' },
            on: { next: 'c' },
          },
          c: { entry: () => effects.record('enter c (inline)'), on: { next: 'a' } },
        },
      }),
    steps: [{ send: { type: 'next' } }, { send: { type: 'next' } }, { send: { type: 'next' } }, { send: { type: 'next' } }],
    observe: valueAndContext,
    expected: { value: 'b', status: 'active', context: { visits: 2 } },
    effects: ['enter a', 'a->b', 'enter b', 'exit b', 'enter c (inline)', 'enter a', 'a->b', 'enter b'],
  },
  {
    name: 'delayed transitions',
    machine: (effects) =>
      setup({}).createMachine({
        id: 'delays',
        initial: 'waiting',
        states: {
          waiting: { on: { start: 'running' } },
          running: { after: { 1000: 'first' } },
          first: { entry: () => effects.record('first'), after: { 500: { target: 'second', actions: () => effects.record('second due') } } },
          second: { entry: () => effects.record('second') },
        },
      }),
    steps: [{ send: { type: 'start' } }, { advance: 600 }, { advance: 600 }, { advance: 200 }, { advance: 400 }],
    observe: valueAndContext,
    expected: { value: 'second', status: 'active', context: {} },
    effects: ['first', 'second due', 'second'],
  },
  {
    name: 'cancel and replace a delayed send by id',
    machine: (effects) =>
      setup({}).createMachine({
        id: 'alarm',
        context: { rings: 0 },
        on: {
          arm: { actions: raise({ type: 'ring' }, { id: 'alarm', delay: 1000 }) },
          rearm: { actions: raise({ type: 'ring' }, { id: 'alarm', delay: 2000 }) },
          disarm: { actions: cancel('alarm') },
          ring: { actions: [assign({ rings: ({ context }) => context.rings + 1 }), () => effects.record('ring')] },
        },
      }),
    steps: [
      { send: { type: 'arm' } },
      { advance: 500 },
      { send: { type: 'rearm' } }, // replaces the pending ring: due 2000 ms from now, not 500
      { advance: 1000 },
      { advance: 1100 }, // rings once
      { send: { type: 'arm' } },
      { send: { type: 'disarm' } },
      { advance: 5000 }, // cancelled: no ring
    ],
    observe: valueAndContext,
    expected: { value: {}, status: 'active', context: { rings: 1 } },
    effects: ['ring'],
  },
  {
    name: 'spawned-actor lifecycle',
    machine: (effects) =>
      setup({ actors: { counter } }).createMachine({
        id: 'spawner',
        context: { counted: {} as Record<string, number> },
        on: {
          spawn: { actions: spawnChild('counter', { id: ({ event }) => (event as unknown as { id: string }).id, input: ({ event }) => ({ start: (event as unknown as { start: number }).start }) }) },
          inc: { actions: sendTo(({ event }) => (event as unknown as { id: string }).id, { type: 'inc' }) },
          stop: { actions: [stopChild(({ event }) => (event as unknown as { id: string }).id), ({ event }) => effects.record(`stopped ${(event as unknown as { id: string }).id}`)] },
          counted: { actions: assign({ counted: ({ context, event }) => ({ ...context.counted, [(event as unknown as { id: string }).id]: (event as unknown as { count: number }).count }) }) },
        },
      }),
    steps: [
      { send: { type: 'spawn', id: 'a', start: 10 } },
      { send: { type: 'spawn', id: 'b', start: 20 } },
      { send: { type: 'inc', id: 'a' } },
      { send: { type: 'spawn', id: 'c', start: 30 } },
      { send: { type: 'stop', id: 'b' } },
      { send: { type: 'inc', id: 'c' } },
      { send: { type: 'inc', id: 'a' } },
    ],
    observe: (actor) => {
      const snapshot = actor.getSnapshot();
      const children = Object.fromEntries(Object.entries(snapshot.children as Record<string, { getSnapshot(): { context: unknown } }>).map(([id, child]) => [id, child.getSnapshot().context]));
      return { context: snapshot.context, children };
    },
    expected: { context: { counted: { a: 12, c: 31 } }, children: { a: { count: 12 }, c: { count: 31 } } },
    effects: ['stopped b'],
  },
  {
    name: 'parent-child messages',
    machine: (effects) =>
      setup({
        actors: {
          echo: setup({}).createMachine({
            id: 'echo',
            context: { seen: 0 },
            on: { ping: { actions: [assign({ seen: ({ context }) => context.seen + 1 }), sendParent(({ context }) => ({ type: 'pong', n: context.seen }))] } },
          }),
        },
      }).createMachine({
        id: 'pinger',
        context: { pongs: [] as number[] },
        invoke: { src: 'echo', id: 'echo', systemId: 'echo' },
        on: {
          ping: { actions: sendTo('echo', { type: 'ping' }) },
          pong: { actions: [assign({ pongs: ({ context, event }) => [...context.pongs, (event as unknown as { n: number }).n] }), () => effects.record('pong')] },
        },
      }),
    steps: [{ send: { type: 'ping' } }, { send: { type: 'ping' } }, { sendToSystem: 'echo', event: { type: 'ping' } }, { send: { type: 'ping' } }],
    observe: (actor) => ({ ...valueAndContext(actor), echo: (actor.system.get('echo')?.getSnapshot() as { context: unknown }).context }),
    expected: { value: {}, status: 'active', context: { pongs: [1, 2, 3, 4] }, echo: { seen: 4 } },
    effects: ['pong', 'pong', 'pong', 'pong'],
  },
  {
    name: "a child's completion reaches its parent",
    machine: (effects) =>
      setup({
        actors: {
          job: setup({}).createMachine({
            id: 'job',
            initial: 'working',
            context: { parts: 0 },
            states: {
              working: { on: { part: { actions: assign({ parts: ({ context }) => context.parts + 1 }) }, finish: 'finished' } },
              finished: { type: 'final' },
            },
            output: ({ context }) => ({ parts: context.parts }),
          }),
        },
      }).createMachine({
        id: 'boss',
        initial: 'waiting',
        context: { result: null as unknown },
        states: {
          waiting: {
            invoke: {
              src: 'job',
              id: 'job',
              systemId: 'job',
              onDone: { target: 'finished', actions: [assign({ result: ({ event }) => event.output }), () => effects.record('job done')] },
            },
          },
          finished: { type: 'final' },
        },
        output: ({ context }) => context.result,
      }),
    steps: [{ sendToSystem: 'job', event: { type: 'part' } }, { sendToSystem: 'job', event: { type: 'part' } }, { sendToSystem: 'job', event: { type: 'finish' } }],
    observe: (actor) => ({ ...valueAndContext(actor), output: actor.getSnapshot().output }),
    expected: { value: 'finished', status: 'done', context: { result: { parts: 2 } }, output: { parts: 2 } },
    effects: ['job done'],
  },
  {
    name: 'an event sent to self before waiting',
    machine: (effects) =>
      setup({}).createMachine({
        id: 'self',
        initial: 'idle',
        context: { order: [] as string[] },
        states: {
          idle: { on: { go: 'working' } },
          working: {
            entry: [raise({ type: 'selfNote' }), () => effects.record('entered working')],
            on: {
              selfNote: { target: 'waiting', actions: assign({ order: ({ context }) => [...context.order, 'self'] }) },
              external: { actions: assign({ order: ({ context }) => [...context.order, 'external too early'] }) },
            },
          },
          waiting: { on: { external: { target: 'done', actions: assign({ order: ({ context }) => [...context.order, 'external'] }) } } },
          done: { type: 'final' },
        },
      }),
    steps: [{ send: { type: 'go' } }, { send: { type: 'external' } }],
    observe: valueAndContext,
    expected: { value: 'done', status: 'done', context: { order: ['self', 'external'] } },
    effects: ['entered working'],
  },
  {
    name: 'an unhandled error',
    machine: (effects) =>
      setup({
        actions: {
          explode: () => {
            effects.record('exploded');
            throw new RangeError('boom');
          },
        },
      }).createMachine({
        id: 'fragile',
        initial: 'ok',
        context: { before: 0 },
        states: { ok: { on: { tick: { actions: assign({ before: ({ context }) => context.before + 1 }) }, explode: { actions: 'explode' } } } },
      }),
    steps: [{ send: { type: 'tick' } }, { send: { type: 'explode' } }],
    observe: (actor) => {
      const snapshot = actor.getSnapshot();
      const error = snapshot.error as Error;
      return { status: snapshot.status, durable: actor.status, error: { name: error.name, message: error.message } };
    },
    expected: { status: 'error', durable: 'error', error: { name: 'RangeError', message: 'boom' } },
    effects: ['exploded'],
  },
  {
    name: "a child's unhandled error fails the parent",
    machine: (effects) =>
      setup({
        actors: {
          fragileChild: setup({}).createMachine({
            id: 'fragileChild',
            on: { explode: { actions: () => { effects.record('child exploded'); throw new TypeError('child boom'); } } },
          }),
          failingPromise: fromPromise<never>(async () => { throw new Error('promise boom'); }),
        },
      }).createMachine({
        id: 'guardian',
        initial: 'watching',
        context: { caught: '' },
        states: {
          watching: {
            // A handled promise failure: the machine goes on.
            invoke: [{ src: 'fragileChild', id: 'fragileChild', systemId: 'fragileChild' }, { src: 'failingPromise', onError: { actions: assign({ caught: ({ event }) => (event.error as Error).message }) } }],
          },
        },
      }),
    steps: [{ sendToSystem: 'fragileChild', event: { type: 'ping' } }, { sendToSystem: 'fragileChild', event: { type: 'explode' } }],
    observe: (actor) => {
      const snapshot = actor.getSnapshot();
      const error = snapshot.error as Error;
      return { status: snapshot.status, durable: actor.status, caught: snapshot.context.caught, error: { name: error.name, message: error.message } };
    },
    expected: { status: 'error', durable: 'error', caught: 'promise boom', error: { name: 'TypeError', message: 'child boom' } },
    effects: ['child exploded'],
  },
  {
    name: 'final output',
    machine: (effects) =>
      setup({}).createMachine({
        id: 'checkout',
        initial: 'cart',
        context: ({ input }) => ({ items: [] as string[], customer: (input as { customer: string }).customer }),
        states: {
          cart: {
            on: {
              add: { actions: assign({ items: ({ context, event }) => [...context.items, (event as unknown as { item: string }).item] }) },
              pay: 'paid',
            },
          },
          paid: { type: 'final', entry: emit({ type: 'receipt' }), exit: () => effects.record('exit paid (the machine is done)') },
        },
        output: ({ context }) => ({ customer: context.customer, items: context.items }),
      }),
    input: { customer: 'ada' },
    steps: [{ send: { type: 'add', item: 'book' } }, { send: { type: 'add', item: 'lamp' } }, { send: { type: 'pay' } }],
    observe: (actor) => ({ status: actor.getSnapshot().status, output: actor.getSnapshot().output, durable: actor.status }),
    expected: { status: 'done', output: { customer: 'ada', items: ['book', 'lamp'] }, durable: 'done' },
    effects: ['exit paid (the machine is done)'],
  },
];

/** XState issues whose persistence failures a durable actor must not have, each as a case. */
export const regressionCases: readonly ConformanceCase[] = [
  {
    // #5331: `after` never fires once the actor was restored from a snapshot taken during the delay.
    name: 'xstate#5331 after fires after restore',
    snapshotEvery: 1,
    machine: (effects) =>
      setup({}).createMachine({
        id: 'quote',
        initial: 'drafting',
        states: {
          drafting: { on: { send: 'awaitingDecision' } },
          awaitingDecision: { after: { 6000: { target: 'expired', actions: () => effects.record('expired') } }, on: { accept: 'accepted' } },
          expired: {},
          accepted: {},
        },
      }),
    steps: [{ send: { type: 'send' } }, { advance: 3000 }, { advance: 3000 }],
    observe: valueAndContext,
    expected: { value: 'expired', status: 'active', context: {} },
    effects: ['expired'],
  },
  {
    // #4860: restored with its context, the actor never continues "after" some time.
    name: 'xstate#4860 after continues with the restored context',
    snapshotEvery: 1,
    machine: () =>
      setup({}).createMachine({
        id: 'poller',
        initial: 'idle',
        context: { polls: 0 },
        states: {
          idle: { after: { 1000: { target: 'polling', actions: assign({ polls: ({ context }) => context.polls + 1 }) } } },
          polling: { always: [{ guard: ({ context }) => context.polls >= 3, target: 'stopped' }, { target: 'idle' }] },
          stopped: {},
        },
      }),
    steps: [{ advance: 1000 }, { advance: 500 }, { advance: 500 }, { advance: 1000 }],
    observe: valueAndContext,
    expected: { value: 'stopped', status: 'active', context: { polls: 3 } },
    effects: [],
  },
  {
    // #5077: a machine with children restored from JSON cannot be persisted again.
    name: 'xstate#5077 restored children persist again',
    snapshotEvery: 1,
    machine: () => {
      const nested = setup({}).createMachine({ id: 'nested', initial: 'one', states: { one: { on: { NEXT: 'two' } }, two: {} } });
      return setup({
        actors: { cb: fromCallback(() => () => {}), nested },
      }).createMachine({
        id: 'myMachine',
        initial: 'idle',
        context: { spawned: 0 },
        states: {
          idle: { on: { START: 'processing.taskA' } },
          processing: {
            initial: 'taskA',
            invoke: { src: 'cb', id: 'cb' },
            states: {
              taskA: { on: { NEXT: 'taskB' } },
              taskB: {
                entry: [spawnChild('nested', { id: 'nested', systemId: 'nested' }), assign({ spawned: ({ context }) => context.spawned + 1 })],
                on: { NEXT: { actions: sendTo('nested', { type: 'NEXT' }) } },
              },
            },
          },
        },
      });
    },
    steps: [{ send: { type: 'START' } }, { send: { type: 'NEXT' } }, { send: { type: 'NEXT' } }, { send: { type: 'PERSIST_AGAIN' } }],
    observe: (actor) => ({ ...valueAndContext(actor), nested: (actor.system.get('nested')?.getSnapshot() as { value: unknown }).value, children: Object.keys(actor.getSnapshot().children).sort() }),
    expected: { value: { processing: 'taskB' }, status: 'active', context: { spawned: 1 }, nested: 'two', children: ['cb', 'nested'] },
    effects: [],
  },
  {
    // #5057: spawned children cannot be persisted ("An inline child actor cannot be persisted").
    name: 'xstate#5057 spawned children are persisted',
    snapshotEvery: 1,
    machine: () =>
      setup({ actors: { counter } }).createMachine({
        id: 'team',
        context: { members: [] as unknown[] },
        on: {
          hire: { actions: assign({ members: ({ context, spawn, event }) => [...context.members, spawn('counter', { id: (event as unknown as { id: string }).id, input: { start: 0 } })] }) },
          inc: { actions: sendTo(({ event }) => (event as unknown as { id: string }).id, { type: 'inc' }) },
        },
      }),
    steps: [{ send: { type: 'hire', id: 'ann' } }, { send: { type: 'hire', id: 'bob' } }, { send: { type: 'inc', id: 'bob' } }, { send: { type: 'hire', id: 'cy' } }, { send: { type: 'inc', id: 'bob' } }],
    observe: (actor) => {
      const snapshot = actor.getSnapshot();
      const members = (snapshot.context as { members: { id: string; getSnapshot(): { context: unknown } }[] }).members;
      return { members: members.map((member) => [member.id, member.getSnapshot().context]) };
    },
    expected: { members: [['ann', { count: 0 }], ['bob', { count: 2 }], ['cy', { count: 0 }]] },
    effects: [],
  },
  {
    // #4873: system.get(id) fails after restoring ("this.logic.transition is not a function").
    name: 'xstate#4873 system.get works after restore',
    snapshotEvery: 1,
    machine: () =>
      setup({ actors: { counter } }).createMachine({
        id: 'parent',
        context: { child: null as unknown },
        on: {
          start: {
            actions: assign({
              child: ({ spawn, event }) => {
                const { childId } = event as unknown as { childId: string };
                return spawn('counter', { id: childId, systemId: childId, input: { start: 0 } });
              },
            }),
          },
        },
      }),
    steps: [{ send: { type: 'start', childId: 'c-42' } }, { sendToSystem: 'c-42', event: { type: 'inc' } }, { sendToSystem: 'c-42', event: { type: 'inc' } }],
    observe: (actor) => ({ child: (actor.system.get('c-42')?.getSnapshot() as { context: unknown } | undefined)?.context ?? 'missing' }),
    expected: { child: { count: 2 } },
    effects: [],
  },
];

/** The clock offset of step `index` (the sum of the advances before it). */
export function timeBefore(steps: readonly Step[], index: number): number {
  return steps.slice(0, index).reduce((total, step) => total + ('advance' in step ? step.advance : 0), 0);
}

export const START_TIME = 1_000_000;
