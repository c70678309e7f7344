import { createActor, emit, fromPromise, setup, spawnChild, stopChild } from 'xstate';
import * as actors from '@liminal/actors';
import { defineSuite, pendingApi, type Side, type SideSpec } from '../src/suite.js';

const doneActor = 'xstate.done.actor.';

type EchoInput = { readonly payload: string };
const echoLogic = fromPromise<string, EchoInput>(async ({ input }) => `echo:${input.payload}`);

/**
 * The raw-XState equivalent of a one-participant conversation: each message
 * spawns one promise actor (a "turn") computing the reply, and the parent
 * emits the reply when the turn is done, which the caller awaits by id.
 * The finished turn is stopped explicitly: XState keeps a done child in
 * `snapshot.children` otherwise, and the parent slows down as they pile up.
 */
const echoMachine = setup({
  types: {
    events: {} as { type: 'message'; id: string; payload: string } | { type: `xstate.done.actor.${string}`; output: string },
    emitted: {} as { type: 'reply'; id: string; payload: string },
  },
  actors: { echo: echoLogic },
}).createMachine({
  on: {
    message: {
      actions: spawnChild('echo', {
        id: ({ event }) => (event as { id: string }).id,
        input: ({ event }) => ({ payload: (event as { payload: string }).payload }),
      }),
    },
    '*': {
      guard: ({ event }) => event.type.startsWith(doneActor),
      actions: [
        emit(({ event }) => ({
          type: 'reply' as const,
          id: event.type.slice(doneActor.length),
          payload: (event as { output: string }).output,
        })),
        stopChild(({ event }) => event.type.slice(doneActor.length)),
      ],
    },
  },
});

function rawXStateSide(): Side {
  const actor = createActor(echoMachine);
  const waiting = new Map<string, (payload: string) => void>();
  actor.on('reply', (reply) => {
    waiting.get(reply.id)?.(reply.payload);
    waiting.delete(reply.id);
  });
  actor.start();
  let next = 0;
  return {
    label: 'raw XState actor.send (spawned promise turn, emitted reply)',
    config: 'one actor, a spawned fromPromise child per message',
    run: () =>
      new Promise<string>((resolve) => {
        const id = `m${next++}`;
        waiting.set(id, resolve);
        actor.send({ type: 'message', id, payload: 'hi' });
      }),
  };
}

async function liminalSide(): Promise<SideSpec> {
  const label = 'Liminal conversation ask (ephemeral, one participant)';
  const api = actors as Partial<typeof actors>;
  if (typeof api.openConversation !== 'function' || typeof api.participant !== 'function') return { label, missing: pendingApi };
  const echo = api.participant('echo', echoLogic);
  const handle = await api.openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
  return {
    label,
    config: 'openConversation({mode: "ephemeral"}), handle.ask',
    run: () => handle.ask('hi', { timeoutMs: 10_000 }),
  };
}

export default defineSuite({
  title: '8. Ephemeral conversation message vs raw XState',
  async run(bench) {
    await bench.compare({
      id: '8-conversation-message',
      title: 'One message and its reply through a one-participant ephemeral conversation vs raw XState v5',
      note:
        'One op = send one message and await the reply. Both sides run the same promise logic for the turn; ' +
        'the conversation adds phases, routing, trace context and reply matching.',
      sides: [await liminalSide(), rawXStateSide()],
      targets: [{ vs: 'raw XState actor.send (spawned promise turn, emitted reply)', atLeast: 0.5 }],
    });
  },
});
