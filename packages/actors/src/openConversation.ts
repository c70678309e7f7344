import { randomUUID } from 'node:crypto';
import { ConfigError, type DurableStore } from '@liminal/store';
import { createActor, type ActorOptions, type InspectionEvent } from 'xstate';
import { Conversation } from './Conversation.js';
import { ConversationHandle } from './ConversationHandle.js';
import { ConversationRuntime } from './internal/ConversationRuntime.js';
import { conversationMachine, type CrashPolicy } from './conversationMachine.js';
import { DurableSteps, type InterruptedCompensations } from './DurableSteps.js';
import { assertConversationConfig } from './internal/assertConversationConfig.js';
import { durableJournal } from './internal/durableJournal.js';
import type { ParticipantSpec } from './participant.js';
import { DEFAULT_COMPENSATION_ATTEMPTS, type CompensationRegistry, type StepObserver } from './steps.js';

interface CommonOptions {
  /** The conversation id (in durable mode also its stream in the store). Random when absent. */
  readonly id?: string;
  /** Span for tracing; `Conversation.start(id)` when absent. */
  readonly span?: Conversation;
  readonly participants: readonly ParticipantSpec[];
  readonly onCrash: CrashPolicy;
  readonly timeoutMs?: number;
  /** XState inspection of the conversation and every participant turn. */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Told about every participant step: completed (with `durationMs`), failed, or replayed from the durable log. */
  readonly onStep?: StepObserver;
  /** Handlers for steps declaring `compensate: '<name>'` (the only kind of compensation durable mode accepts). */
  readonly compensations?: CompensationRegistry;
  /** How many times a throwing compensation is tried before it is recorded failed (default 3). */
  readonly compensationAttempts?: number;
  /** Durable mode: what a reopened conversation does with a compensation its process died in (default `'report'`). */
  readonly interruptedCompensations?: InterruptedCompensations;
  /** Clock for XState timers (the conversation timeout); a `SimulatedClock` in tests. */
  readonly clock?: NonNullable<ActorOptions<typeof conversationMachine>['clock']>;
}

export type ConversationOptions =
  | (CommonOptions & { readonly mode: 'ephemeral' })
  | (CommonOptions & { readonly mode: 'durable'; readonly store: DurableStore });

/** Starts a conversation and returns a first handle on it (sender `handle-1`). */
export async function openConversation(options: ConversationOptions): Promise<ConversationHandle> {
  assertConversationConfig(options);
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
    throw new ConfigError(`id must be a non-empty string, got ${JSON.stringify(options.id)}`);
  }
  if (options.mode === 'durable' && (typeof options.store !== 'object' || options.store === null)) {
    throw new ConfigError('a durable conversation needs a store (a DurableStore)');
  }
  if (options.onStep !== undefined && typeof options.onStep !== 'function') throw new ConfigError('onStep must be a function');
  const id = options.id ?? randomUUID();
  // The journal reports failed writes to the actor, which exists only after
  // the journal is built; the indirection closes that loop.
  let failConversation: (error: unknown) => void = () => {};
  const journal =
    options.mode === 'durable'
      ? durableJournal(
          await DurableSteps.open(options.store, id, {
            ...(options.compensations === undefined ? {} : { compensations: options.compensations }),
            ...(options.compensationAttempts === undefined ? {} : { compensationAttempts: options.compensationAttempts }),
            ...(options.interruptedCompensations === undefined ? {} : { interruptedCompensations: options.interruptedCompensations }),
          }),
          (error) => failConversation(error),
          options.onStep,
        )
      : undefined;
  const actor = createActor(conversationMachine, {
    input: {
      id,
      participants: options.participants,
      onCrash: options.onCrash,
      mode: options.mode,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(journal === undefined ? {} : { journal }),
      ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
      ...(options.compensations === undefined ? {} : { compensations: options.compensations }),
      compensationAttempts: options.compensationAttempts ?? DEFAULT_COMPENSATION_ATTEMPTS,
    },
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  failConversation = (cause) => actor.send({ type: 'fail', reason: 'journalFailed', cause });
  const runtime = new ConversationRuntime(actor, options.span ?? Conversation.start(id));
  actor.start();
  // A compensation run in the log (this conversation failed before): finish
  // what it left, or read it back, so the conversation is failed/compensated again.
  if (journal?.compensationStarted === true) actor.send({ type: 'compensation.resume' });
  return new ConversationHandle(runtime, runtime.nextSender());
}
