import { type ActorRefFrom, assign, fromPromise, sendTo, setup, stopChild } from 'xstate';
import type { RestartPolicy } from '../types.js';

/** What a channel actor drives; implemented by the channel, which outlives its actors. */
export interface ChannelWork {
  /** Rebuilds state that may be stale after a crash (durable mode reopens its stream). */
  recover(): Promise<void>;
  /** Processes queued work until none is left; throwing crashes the actor. */
  drain(): Promise<void>;
  hasWork(): boolean;
}

export interface SupervisedChannel extends ChannelWork {
  readonly restartPolicy: RestartPolicy;
  now(): number;
  crashed(error: unknown): void;
  restarted(restarts: number): void;
  /** The restart budget is spent: no actor will run for this channel again. */
  gaveUp(error: unknown, restarts: number): void;
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
  // its supervisor sees `xstate.error.actor.*`.
  states: {
    recovering: { invoke: { src: 'recover', input: ({ context }) => context.work, onDone: 'ready' } },
    ready: {
      always: { guard: 'hasWork', target: 'draining' },
      on: { wake: { guard: 'hasWork', target: 'draining' } },
    },
    draining: { invoke: { src: 'drain', input: ({ context }) => context.work, onDone: 'ready' } },
  },
});

interface SupervisorContext {
  readonly channel: SupervisedChannel;
  readonly child: ActorRefFrom<typeof channelActor>;
  /** Times of the restarts still inside the policy's window. */
  readonly recent: readonly number[];
  readonly restarts: number;
}

type CrashEvent = { type: `xstate.error.actor.${string}`; error: unknown };

/**
 * One-for-one supervision of a single channel actor: each channel has its own
 * supervisor, so one channel's crashes (and its spent budget) never touch
 * another channel. More than `maxRestarts` crashes within `withinMs` fail the
 * channel instead of restarting it again.
 */
export const channelSupervisor = setup({
  types: {
    input: {} as { channel: SupervisedChannel },
    context: {} as SupervisorContext,
    events: {} as { type: 'wake' } | { type: 'stop' } | CrashEvent,
  },
  actors: { channelActor },
  guards: {
    budgetLeft: ({ context }) => withinWindow(context).length < context.channel.restartPolicy.maxRestarts,
  },
  actions: {
    reportCrash: ({ context, event }) => context.channel.crashed((event as CrashEvent).error),
    stopChild: stopChild(({ context }) => context.child),
    restart: assign(({ context, spawn }) => ({
      recent: [...withinWindow(context), context.channel.now()],
      restarts: context.restarts + 1,
      child: spawn('channelActor', { id: `channel-${context.restarts + 1}`, input: { work: context.channel } }),
    })),
    reportRestart: ({ context }) => context.channel.restarted(context.restarts),
    giveUp: ({ context, event }) => context.channel.gaveUp((event as CrashEvent).error, context.restarts),
  },
}).createMachine({
  id: 'channelSupervisor',
  context: ({ input, spawn }) => ({
    channel: input.channel,
    child: spawn('channelActor', { id: 'channel-0', input: { work: input.channel } }),
    recent: [],
    restarts: 0,
  }),
  initial: 'supervising',
  states: {
    supervising: {
      on: {
        wake: { actions: sendTo(({ context }) => context.child, { type: 'wake' }) },
        'xstate.error.actor.*': [
          { guard: 'budgetLeft', actions: ['reportCrash', 'stopChild', 'restart', 'reportRestart'] },
          { target: 'failed', actions: ['reportCrash', 'stopChild', 'giveUp'] },
        ],
        stop: { target: 'stopped', actions: 'stopChild' },
      },
    },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
});

function withinWindow(context: SupervisorContext): number[] {
  const { withinMs } = context.channel.restartPolicy;
  const now = context.channel.now();
  return context.recent.filter((at) => now - at < withinMs);
}
