import { randomUUID } from 'node:crypto';
import { DurableConversation, EMPTY_HEADER, type ConversationHeader } from '@liminal/durability';
import { ConfigError, type DurableStore } from '@liminal/store';
import { createActor, type ActorOptions, type InspectionEvent } from 'xstate';
import { Conversation } from './Conversation.js';
import { ConversationHandle } from './ConversationHandle.js';
import { ConversationRuntime } from './internal/ConversationRuntime.js';
import { conversationMachine } from './conversationMachine.js';
import type { CrashPolicy } from './conversationTypes.js';
import { DurableSteps, type InterruptedCompensations } from './DurableSteps.js';
import { VersionMismatchError } from './durableActorErrors.js';
import { assertConversationConfig } from './internal/assertConversationConfig.js';
import { persistChanges, restoredFrom } from './internal/conversationPersistence.js';
import { durableJournal } from './internal/durableJournal.js';
import type { ParticipantSpec } from './participant.js';
import { DEFAULT_COMPENSATION_ATTEMPTS, systemTimers, type CompensationRegistry, type StepObserver, type StepTimers } from './steps.js';

/** The version a conversation records when `version` is not given (and a journal older than versions is read as). */
export const DEFAULT_VERSION = '1';

/** What changes between deploys: the participants (their steps) and the compensations they name. */
export interface ConversationDefinition {
  readonly participants: readonly ParticipantSpec[];
  readonly compensations?: CompensationRegistry;
}

interface CommonOptions {
  /** The conversation id (in durable mode also its stream in the store). Random when absent. */
  readonly id?: string;
  /** Span for tracing; `Conversation.start(id)` when absent. */
  readonly span?: Conversation;
  /** The definition, when `versions` is not given. */
  readonly participants?: readonly ParticipantSpec[];
  readonly onCrash: CrashPolicy;
  /**
   * Fails the conversation with reason `timeout` this long after it was
   * created. Durable mode records the absolute deadline at creation: a reopen
   * keeps it (an overdue one fires at once) and ignores this option.
   */
  readonly timeoutMs?: number;
  /** XState inspection of the conversation and every participant turn. */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Told about every participant step: completed (with `durationMs`), failed, or replayed from the durable log. */
  readonly onStep?: StepObserver;
  /** Handlers for steps declaring `compensate: '<name>'`, when `versions` is not given. */
  readonly compensations?: CompensationRegistry;
  /** How many times a throwing compensation is tried before it is recorded failed (default 3). */
  readonly compensationAttempts?: number;
  /** Durable mode: what a reopened conversation does with a compensation its process died in (default `'report'`). */
  readonly interruptedCompensations?: InterruptedCompensations;
  /** Clock for XState timers (the conversation timeout) and step sleeps; a `SimulatedClock` in tests. */
  readonly clock?: NonNullable<ActorOptions<typeof conversationMachine>['clock']>;
  /** Epoch milliseconds for deadlines, timers and recorded times (default `Date.now`); pair it with `clock` in tests. */
  readonly now?: () => number;
  /** The version a new conversation records and runs on (default `'1'`). */
  readonly version?: string;
  /**
   * Definitions by version. A new conversation starts on `version`; a
   * reopened one runs on the version its journal recorded, and one whose
   * version is missing here is refused with `VersionMismatchError`.
   */
  readonly versions?: Readonly<Record<string, ConversationDefinition>>;
}

export type ConversationOptions =
  | (CommonOptions & { readonly mode: 'ephemeral' })
  | (CommonOptions & { readonly mode: 'durable'; readonly store: DurableStore });

/**
 * Starts a conversation and returns a first handle on it (sender `handle-1`).
 * In durable mode it opens the conversation's journal first: a conversation
 * seen before comes back in its recorded phase, with its participants'
 * health, its recent log, its failure and its original deadline.
 */
export async function openConversation(options: ConversationOptions): Promise<ConversationHandle> {
  assertOpenOptions(options);
  const id = options.id ?? randomUUID();
  const now = options.now ?? (() => Date.now());
  const timers: StepTimers = { now, setTimeout: (callback, ms): unknown => (options.clock === undefined ? systemTimers.setTimeout(callback, ms) : options.clock.setTimeout(callback, ms)) };

  let header: ConversationHeader = EMPTY_HEADER;
  let steps: DurableSteps | undefined;
  let definition: ConversationDefinition;
  let timeoutMs = options.timeoutMs;
  if (options.mode === 'durable') {
    // The conversation index (@liminal/durability listConversations) is written in each journal commit.
    const conversation = await DurableConversation.recover(options.store, id, { index: true, now });
    header = conversation.state.header;
    const fresh = conversation.expectedSeq === 0;
    const version = fresh ? (options.version ?? DEFAULT_VERSION) : (header.version ?? DEFAULT_VERSION);
    definition = definitionFor(options, version, id);
    assertConversationConfig({ ...options, ...definition });
    steps = DurableSteps.over(conversation, {
      ...(definition.compensations === undefined ? {} : { compensations: definition.compensations }),
      ...(options.compensationAttempts === undefined ? {} : { compensationAttempts: options.compensationAttempts }),
      ...(options.interruptedCompensations === undefined ? {} : { interruptedCompensations: options.interruptedCompensations }),
      timers,
    });
    if (fresh) {
      const createdAt = now();
      const deadline = options.timeoutMs === undefined ? undefined : createdAt + options.timeoutMs;
      await steps.recordLifecycle({ kind: 'conversationCreated', version, createdAt, ...(deadline === undefined ? {} : { deadline }) });
      header = steps.conversation.state.header;
    }
    // The deadline recorded at creation, not a new one from now (a journal
    // older than deadlines keeps counting from this open, as it used to).
    if (header.createdAt !== undefined) timeoutMs = header.deadline === undefined ? undefined : Math.max(0, header.deadline - now());
    if (header.phase === 'closed' || header.phase === 'failed') timeoutMs = undefined;
  } else {
    definition = definitionFor(options, options.version ?? DEFAULT_VERSION, id);
    assertConversationConfig({ ...options, ...definition });
  }
  const restored = restoredFrom(header, definition.participants.map((spec) => spec.id));

  // The journal reports failed writes to the actor, which exists only after
  // the journal is built; the indirection closes that loop.
  let failConversation: (error: unknown) => void = () => {};
  const journal = steps === undefined ? undefined : durableJournal(steps, (error) => failConversation(error), options.onStep);
  const actor = createActor(conversationMachine, {
    input: {
      id,
      participants: definition.participants,
      onCrash: options.onCrash,
      mode: options.mode,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(journal === undefined ? {} : { journal }),
      ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
      ...(definition.compensations === undefined ? {} : { compensations: definition.compensations }),
      compensationAttempts: options.compensationAttempts ?? DEFAULT_COMPENSATION_ATTEMPTS,
      timers,
    },
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  failConversation = (cause) => actor.send({ type: 'fail', reason: 'journalFailed', cause });
  const runtime = new ConversationRuntime(actor, options.span ?? Conversation.start(id));
  actor.start();
  if (journal !== undefined) {
    if (header !== EMPTY_HEADER) actor.send({ type: 'conversation.restore', restored });
    persistChanges(actor, restored, journal.lifecycle.bind(journal), now);
    // A compensation run in the log (this conversation failed before): finish
    // what it left, or read it back, so the conversation is failed/compensated again.
    // A conversation whose compensations all ran reopens failed and reads the outcome back from its log.
    if (journal.compensationStarted && header.phase !== 'failed') actor.send({ type: 'compensation.resume' });
    // Messages it received and did not finish (in a turn, or waiting behind one, when its process died) run again,
    // resuming after their recorded steps, without waiting for anyone to deliver them again.
    else if (header.phase === 'active' || header.phase === 'completing') for (const envelope of journal.unfinished()) actor.send({ type: 'message', envelope });
  }
  return new ConversationHandle(runtime, runtime.nextSender());
}

function assertOpenOptions(options: ConversationOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('openConversation needs an options object');
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
    throw new ConfigError(`id must be a non-empty string, got ${JSON.stringify(options.id)}`);
  }
  if (options.mode === 'durable' && (typeof options.store !== 'object' || options.store === null)) {
    throw new ConfigError('a durable conversation needs a store (a DurableStore)');
  }
  if (options.onStep !== undefined && typeof options.onStep !== 'function') throw new ConfigError('onStep must be a function');
  if (options.now !== undefined && typeof options.now !== 'function') throw new ConfigError('now must be a function returning epoch milliseconds');
  if (options.version !== undefined && (typeof options.version !== 'string' || options.version === '')) {
    throw new ConfigError(`version must be a non-empty string, got ${JSON.stringify(options.version)}`);
  }
  const { versions } = options;
  if (versions === undefined) return;
  if (typeof versions !== 'object' || versions === null || Object.keys(versions).length === 0) {
    throw new ConfigError('versions must map version names to definitions ({ participants, compensations? })');
  }
  if (options.participants !== undefined || options.compensations !== undefined) {
    throw new ConfigError('give participants and compensations either at the top level or per version in versions, not both');
  }
  const current = options.version ?? DEFAULT_VERSION;
  if (!Object.hasOwn(versions, current)) throw new ConfigError(`version ${JSON.stringify(current)} (what new conversations start on) is not in versions`);
}

/** The definition `version` names: the top-level one, or `versions[version]`; a version this process lacks is refused. */
function definitionFor(options: CommonOptions, version: string, id: string): ConversationDefinition {
  const { versions } = options;
  if (versions === undefined) {
    const own = options.version ?? DEFAULT_VERSION;
    if (version !== own) throw new VersionMismatchError(id, version, own, [own]);
    return { participants: options.participants as readonly ParticipantSpec[], ...(options.compensations === undefined ? {} : { compensations: options.compensations }) };
  }
  if (!Object.hasOwn(versions, version)) throw new VersionMismatchError(id, version, options.version ?? DEFAULT_VERSION, Object.keys(versions));
  const definition = versions[version]!;
  if (typeof definition !== 'object' || definition === null) throw new ConfigError(`versions[${JSON.stringify(version)}] must be { participants, compensations? }`);
  return definition;
}
