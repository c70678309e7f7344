import { fromPromise, setup } from 'xstate';

/** What a channel actor drives; implemented by the channel, which outlives its actors. */
export interface ChannelWork {
  /** Rebuilds state that may be stale after a crash (durable mode reopens its stream). */
  recover(): Promise<void>;
  /** Processes queued work until none is left; throwing crashes the actor. */
  drain(): Promise<void>;
  hasWork(): boolean;
}

/**
 * The channel actor: recovers, then drains the channel's queue whenever there
 * is work. Queued work lives in the channel, not in the actor, so a crash loses
 * nothing: the restarted actor recovers and retries the message at the head.
 */
export const channelActor = setup({
  types: {
    input: {} as { work: ChannelWork },
    context: {} as { work: ChannelWork },
    events: {} as { type: 'wake' },
  },
  actors: {
    recover: fromPromise<void, ChannelWork>(({ input }) => input.recover()),
    drain: fromPromise<void, ChannelWork>(({ input }) => input.drain()),
  },
  guards: {
    hasWork: ({ context }) => context.work.hasWork(),
  },
}).createMachine({
  id: 'channel',
  context: ({ input }) => ({ work: input.work }),
  initial: 'recovering',
  // No onError anywhere: a failing recover or drain makes this actor fail, and
  // its supervisor sees `xstate.error.actor.channel`.
  states: {
    recovering: { invoke: { src: 'recover', input: ({ context }) => context.work, onDone: 'ready' } },
    ready: {
      always: { guard: 'hasWork', target: 'draining' },
      on: { wake: { guard: 'hasWork', target: 'draining' } },
    },
    draining: { invoke: { src: 'drain', input: ({ context }) => context.work, onDone: 'ready' } },
  },
});
