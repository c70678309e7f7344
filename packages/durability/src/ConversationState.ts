import { assertNonNegativeSafeInteger, assertPayload, ConfigError, InvalidArgumentError } from '@liminal/store';
import { CONVERSATION_PHASES, type ConversationEvent, type ConversationPhase, type LifecycleEvent, type MessageEvent } from './ConversationEvent.js';

/** What a conversation should do with a delivered message. */
export type RedeliveryDecision =
  /** Already finished: do nothing (no event is appended). */
  | { readonly kind: 'skip' }
  /** Seen before: continue at `step`; outputs of earlier steps are in `stepOutput`. */
  | { readonly kind: 'resumeFrom'; readonly step: number }
  /** Never seen: process from step 0. */
  | { readonly kind: 'start' };

/** Everything the log says about one message. */
export interface MessageProgress {
  readonly messageId: string;
  readonly received: boolean;
  /** Started and no `processingFinished` / `errorOccurred` after it. */
  readonly inProgress: boolean;
  readonly finished: boolean;
  /** The last recorded error, if any. */
  readonly error?: string;
  /** The message as its receipt recorded it (`messageReceived.payload`); dropped once it finishes. */
  readonly payload?: Uint8Array;
  /**
   * Completed step outputs by step index. For a finished message only the
   * last step's output is kept (see `ConversationState.stepOutput`).
   */
  readonly steps: ReadonlyMap<number, Uint8Array>;
}

interface MutableProgress {
  received: boolean;
  inProgress: boolean;
  finished: boolean;
  error: string | undefined;
  payload: Uint8Array | undefined;
  readonly steps: Map<number, Uint8Array>;
  /** Kept alongside `steps` so `lastCompletedStep` is O(1), not a scan. */
  maxStep: number | undefined;
}

/**
 * How many of the latest log entries the state (and so every snapshot) keeps.
 * The log itself stays in the journal; keeping all of it in the state would
 * make every snapshot grow with the conversation's age.
 */
export const RECENT_LOG_LIMIT = 256;

/** What the lifecycle events say about the conversation as a whole. */
export interface ConversationHeader {
  /** The definition version recorded at creation; `undefined` for a log without `conversationCreated`. */
  readonly version: string | undefined;
  readonly createdAt: number | undefined;
  /** The absolute timeout deadline (epoch ms), if the conversation has one. */
  readonly deadline: number | undefined;
  readonly phase: ConversationPhase;
  readonly failure: { readonly reason: string; readonly cause?: string } | undefined;
  /** Participants that exited, with when (epoch ms). */
  readonly exits: ReadonlyMap<string, number>;
  /** The latest `RECENT_LOG_LIMIT` log entries, oldest first. */
  readonly recentLog: readonly Uint8Array[];
  /** How many entries were ever logged (the journal holds them all). */
  readonly loggedCount: number;
  /** How many `stepCompleted` events the journal holds. */
  readonly stepCount: number;
}

export const EMPTY_HEADER: ConversationHeader = {
  version: undefined,
  createdAt: undefined,
  deadline: undefined,
  phase: 'created',
  failure: undefined,
  exits: new Map(),
  recentLog: [],
  loggedCount: 0,
  stepCount: 0,
};

/** Set by `ConversationState`'s static block, which alone may reach its private restore. */
let adopt: (messages: Iterable<MessageProgress>, header: ConversationHeader) => ConversationState;
let adoptDelta: (state: ConversationState, messages: Iterable<MessageProgress>, header: ConversationHeader) => void;

/**
 * The replay-derived state of a conversation. Every update is an idempotent
 * set/map update (a flag set, a map entry written), never a counter bump,
 * so replaying a log twice, or a
 * snapshot followed by the events after it, gives the same state.
 *
 * State is grouped per message, which makes every per-message query O(1).
 */
export class ConversationState {
  // Byte arrays are copied with `new Uint8Array(x)`, not `x.slice()`: on a Node
  // Buffer `slice` is a view, and a caller's later write would change the state.
  readonly #messages = new Map<string, MutableProgress>();
  #header: ConversationHeader = EMPTY_HEADER;
  /** Messages changed since the last `takeChanged` (what an incremental snapshot must carry). */
  readonly #changed = new Set<string>();
  /** Received and not finished messages: `hasUnfinished` is O(1) on every append, and a reopen finds them without a scan. */
  readonly #unfinished = new Set<string>();

  static replay(events: Iterable<ConversationEvent>): ConversationState {
    if (typeof (events as Partial<Iterable<ConversationEvent>> | null)?.[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError('events', 'expected an iterable of ConversationEvent');
    }
    const state = new ConversationState();
    for (const event of events) state.apply(event);
    return state;
  }

  /** Rebuilds a state from `messages()` output (copying every step output) and a `header`. */
  static fromProgress(messages: Iterable<MessageProgress>, header: ConversationHeader = EMPTY_HEADER): ConversationState {
    const copied = { ...header, exits: new Map(header.exits), recentLog: header.recentLog.map((entry) => new Uint8Array(entry)) };
    return ConversationState.#restore(messages, copied, (output) => new Uint8Array(output));
  }

  static {
    // A decoded snapshot's outputs are fresh arrays nobody else holds, so a
    // restore adopts them instead of copying 100,000 of them a second time.
    adopt = (messages, header) => ConversationState.#restore(messages, header, (output) => output);
    adoptDelta = (state, messages, header) => {
      // A snapshot's header carries only the log entries since the previous snapshot.
      const recentLog = [...state.#header.recentLog, ...header.recentLog];
      if (recentLog.length > RECENT_LOG_LIMIT) recentLog.splice(0, recentLog.length - RECENT_LOG_LIMIT);
      state.#header = { ...header, recentLog };
      state.#upsert(messages, (output) => output);
    };
  }

  static #restore(messages: Iterable<MessageProgress>, header: ConversationHeader, own: (output: Uint8Array) => Uint8Array): ConversationState {
    const state = new ConversationState();
    state.#header = header;
    state.#upsert(messages, own);
    return state;
  }

  #upsert(messages: Iterable<MessageProgress>, own: (output: Uint8Array) => Uint8Array): void {
    for (const message of messages) {
      if (message.received && !message.finished) this.#unfinished.add(message.messageId);
      else this.#unfinished.delete(message.messageId);
      let maxStep: number | undefined;
      for (const step of message.steps.keys()) if (maxStep === undefined || step > maxStep) maxStep = step;
      const steps = new Map<number, Uint8Array>();
      if (message.finished) {
        // Same trimming as `apply(processingFinished)`, so a snapshot written
        // before outputs were trimmed restores to what a replay gives.
        const last = maxStep === undefined ? undefined : message.steps.get(maxStep);
        if (maxStep !== undefined && last !== undefined) steps.set(maxStep, own(last));
      } else {
        for (const [step, output] of message.steps) steps.set(step, own(output));
      }
      this.#messages.set(message.messageId, {
        received: message.received,
        inProgress: message.inProgress,
        finished: message.finished,
        error: message.error,
        payload: message.finished || message.payload === undefined ? undefined : own(message.payload),
        steps,
        maxStep,
      });
    }
  }

  /**
   * Applies one event. Rejects malformed events (InvalidArgumentError) before
   * changing anything. A `DurableConversation` applies its own events; calling
   * this on `conversation.state` would make it disagree with the log.
   */
  apply(event: ConversationEvent): void {
    assertEvent(event);
    if (!('messageId' in event)) {
      this.#header = applyLifecycle(this.#header, event);
      return;
    }
    const message = this.#progress(event.messageId);
    this.#changed.add(event.messageId);
    this.#applyToMessage(message, event);
    if (message.received && !message.finished) this.#unfinished.add(event.messageId);
    else this.#unfinished.delete(event.messageId);
  }

  #applyToMessage(message: MutableProgress, event: MessageEvent): void {
    switch (event.kind) {
      case 'messageReceived':
        message.received = true;
        // The first receipt's message is kept; a finished one needs it no more.
        if (event.payload !== undefined && message.payload === undefined && !message.finished) message.payload = new Uint8Array(event.payload);
        break;
      case 'processingStarted':
        message.inProgress = true;
        break;
      case 'stepCompleted':
        this.#header = { ...this.#header, stepCount: this.#header.stepCount + 1 };
        message.steps.set(event.stepIndex, new Uint8Array(event.output));
        if (message.maxStep === undefined || event.stepIndex > message.maxStep) message.maxStep = event.stepIndex;
        // A step recorded after the finish (a stray late write) keeps the invariant too.
        if (message.finished) dropAllButLastOutput(message);
        break;
      case 'processingFinished':
        message.finished = true;
        message.inProgress = false;
        message.payload = undefined;
        dropAllButLastOutput(message);
        break;
      case 'errorOccurred':
        message.error = event.error;
        message.inProgress = false;
        break;
    }
  }

  hasReceived(messageId: string): boolean {
    return this.#messages.get(messageId)?.received ?? false;
  }

  isInProgress(messageId: string): boolean {
    return this.#messages.get(messageId)?.inProgress ?? false;
  }

  isFullyProcessed(messageId: string): boolean {
    return this.#messages.get(messageId)?.finished ?? false;
  }

  /** The last error recorded for the message, if any. */
  errorOf(messageId: string): string | undefined {
    return this.#messages.get(messageId)?.error;
  }

  /** The highest completed step index, or `undefined` when no step completed. */
  lastCompletedStep(messageId: string): number | undefined {
    return this.#messages.get(messageId)?.maxStep;
  }

  /** The step to run next: 0, or one past the highest completed step. */
  nextStepIndex(messageId: string): number {
    const last = this.lastCompletedStep(messageId);
    if (last === undefined) return 0;
    if (last >= Number.MAX_SAFE_INTEGER) {
      throw new ConfigError(`message ${JSON.stringify(messageId)}: step index ${last} cannot be advanced`);
    }
    return last + 1;
  }

  /**
   * A copy of the recorded output of a completed step, so a resumed worker
   * reuses it instead of redoing the step. Once the message is finished only
   * its last step's output is kept (its final result, e.g. a recorded reply);
   * earlier steps answer `undefined`: a finished message is skipped, never
   * resumed, and keeping every output made snapshots as costly to load as
   * the log. The outputs stay in the log.
   */
  stepOutput(messageId: string, stepIndex: number): Uint8Array | undefined {
    const output = this.#messages.get(messageId)?.steps.get(stepIndex);
    return output && new Uint8Array(output);
  }

  /**
   * finished -> skip (its effects are done); received -> resume at
   * `nextStepIndex`, reusing the recorded steps (an errored, unfinished message
   * resumes too: an error is recorded, not a finish); otherwise start.
   */
  redeliveryDecision(messageId: string): RedeliveryDecision {
    if (this.isFullyProcessed(messageId)) return { kind: 'skip' };
    if (this.hasReceived(messageId)) return { kind: 'resumeFrom', step: this.nextStepIndex(messageId) };
    return { kind: 'start' };
  }

  /** The conversation-wide state: version, deadline, phase, failure, exits, recent log. */
  get header(): ConversationHeader {
    return this.#header;
  }

  /** Whether some received message has neither finished nor failed (an in-flight turn was cut off). */
  get hasUnfinished(): boolean {
    return this.#unfinished.size > 0;
  }

  /** How many received messages have not finished. */
  get unfinishedCount(): number {
    return this.#unfinished.size;
  }

  /** The received messages that have not finished, in the order they were first received. */
  *unfinishedMessages(): IterableIterator<MessageProgress> {
    for (const messageId of this.#unfinished) {
      const m = this.#messages.get(messageId);
      if (m !== undefined) yield progressOf(messageId, m);
    }
  }

  /** Internal: the messages changed since the previous call, for an incremental snapshot. */
  takeChanged(): MessageProgress[] {
    const changed: MessageProgress[] = [];
    for (const messageId of this.#changed) {
      const m = this.#messages.get(messageId);
      if (m !== undefined) changed.push(progressOf(messageId, m));
    }
    this.#changed.clear();
    return changed;
  }

  get messageCount(): number {
    return this.#messages.size;
  }

  /** Every message the log mentions, in first-mention order. */
  *messages(): IterableIterator<MessageProgress> {
    for (const [messageId, m] of this.#messages) yield progressOf(messageId, m);
  }

  clone(): ConversationState {
    return ConversationState.fromProgress(this.messages(), this.#header);
  }

  #progress(messageId: string): MutableProgress {
    let message = this.#messages.get(messageId);
    if (message === undefined) {
      message = { received: false, inProgress: false, finished: false, error: undefined, payload: undefined, steps: new Map(), maxStep: undefined };
      this.#messages.set(messageId, message);
    }
    return message;
  }
}

/** Internal (not exported from the package): restores a decoded snapshot without copying its outputs. */
export function adoptProgress(messages: Iterable<MessageProgress>, header: ConversationHeader): ConversationState {
  return adopt(messages, header);
}

/** Internal: applies one incremental snapshot (its header and the messages it changed) to `state`. */
export function applySnapshotDelta(state: ConversationState, messages: Iterable<MessageProgress>, header: ConversationHeader): void {
  adoptDelta(state, messages, header);
}

function progressOf(messageId: string, m: MutableProgress): MessageProgress {
  return {
    messageId,
    received: m.received,
    inProgress: m.inProgress,
    finished: m.finished,
    ...(m.error === undefined ? {} : { error: m.error }),
    ...(m.payload === undefined ? {} : { payload: m.payload }),
    steps: m.steps,
  };
}

/**
 * Internal: what the header and the unfinished flag become after each of
 * `events`, applied in order, without applying them (the index commits them
 * with the events, which are applied only once the commit succeeded).
 * O(events), unlike a clone.
 */
export function previewsAfter(state: ConversationState, events: readonly ConversationEvent[]): { header: ConversationHeader; hasUnfinished: boolean }[] {
  let header = state.header;
  let unfinished = state.unfinishedCount;
  // Messages the earlier events of the batch received or finished.
  const received = new Set<string>();
  const finished = new Set<string>();
  return events.map((event) => {
    if (!('messageId' in event)) {
      header = applyLifecycle(header, event);
      return { header, hasUnfinished: unfinished > 0 };
    }
    const id = event.messageId;
    const wasReceived = received.has(id) || state.hasReceived(id);
    const wasFinished = finished.has(id) || state.isFullyProcessed(id);
    const receivedAfter = wasReceived || event.kind === 'messageReceived';
    const finishedAfter = wasFinished || event.kind === 'processingFinished';
    unfinished += Number(receivedAfter && !finishedAfter) - Number(wasReceived && !wasFinished);
    if (receivedAfter) received.add(id);
    if (finishedAfter) finished.add(id);
    if (event.kind === 'stepCompleted') header = { ...header, stepCount: header.stepCount + 1 };
    return { header, hasUnfinished: unfinished > 0 };
  });
}

/** The one reducer of lifecycle events (pure: a new header each time). */
function applyLifecycle(header: ConversationHeader, event: LifecycleEvent): ConversationHeader {
  switch (event.kind) {
    case 'conversationCreated':
      return { ...header, version: event.version, createdAt: event.createdAt, deadline: event.deadline };
    case 'phaseChanged': {
      // failed -> active is a retry (`retryConversation` in @liminal/actors): it starts over with no failure and every participant alive.
      if (header.phase === 'failed' && event.phase === 'active') return { ...header, phase: event.phase, failure: undefined, exits: new Map() };
      const failure =
        event.phase !== 'failed' ? header.failure : { reason: event.failure ?? 'requested', ...(event.cause === undefined ? {} : { cause: event.cause }) };
      return { ...header, phase: event.phase, failure };
    }
    case 'participantExited': {
      const exits = new Map(header.exits);
      exits.set(event.participant, event.exitedAt);
      return { ...header, exits };
    }
    case 'entryLogged': {
      const recentLog = [...header.recentLog, new Uint8Array(event.entry)];
      if (recentLog.length > RECENT_LOG_LIMIT) recentLog.splice(0, recentLog.length - RECENT_LOG_LIMIT);
      return { ...header, recentLog, loggedCount: header.loggedCount + 1 };
    }
  }
}

function dropAllButLastOutput(message: MutableProgress): void {
  if (message.steps.size <= 1 || message.maxStep === undefined) return;
  const last = message.steps.get(message.maxStep);
  message.steps.clear();
  if (last !== undefined) message.steps.set(message.maxStep, last);
}

/** A conversation-wide event built by a caller: not a message's event, and well formed (`assertEvent`). */
export function assertLifecycleEvent(event: LifecycleEvent): void {
  if (typeof event !== 'object' || event === null || 'messageId' in event) {
    throw new InvalidArgumentError('event', 'expected a conversationCreated, phaseChanged, participantExited or entryLogged event');
  }
  assertEvent(event);
}

/**
 * Validates an event built by a caller (InvalidArgumentError); decoded
 * events already satisfy this. A writer that queues events to commit later
 * checks them when they are queued, so a bad one never fails the commit of
 * the writes it would ride with.
 */
export function assertEvent(event: ConversationEvent): void {
  if (typeof event !== 'object' || event === null) throw new InvalidArgumentError('event', 'expected an object');
  switch (event.kind) {
    case 'conversationCreated':
      assertString('event.version', event.version);
      assertNonNegativeSafeInteger('event.createdAt', event.createdAt);
      if (event.deadline !== undefined) assertNonNegativeSafeInteger('event.deadline', event.deadline);
      return;
    case 'phaseChanged':
      if (!CONVERSATION_PHASES.includes(event.phase)) throw new InvalidArgumentError('event.phase', `unknown phase ${JSON.stringify(event.phase)}`);
      assertNonNegativeSafeInteger('event.at', event.at);
      if (event.failure !== undefined) assertString('event.failure', event.failure);
      if (event.cause !== undefined) assertString('event.cause', event.cause);
      return;
    case 'participantExited':
      assertString('event.participant', event.participant);
      assertNonNegativeSafeInteger('event.exitedAt', event.exitedAt);
      return;
    case 'entryLogged':
      assertPayload('event.entry', event.entry);
      return;
    default:
  }
  if (typeof (event as { messageId?: unknown }).messageId !== 'string') throw new InvalidArgumentError('event.messageId', 'expected a string');
  switch (event.kind) {
    case 'messageReceived':
      assertNonNegativeSafeInteger('event.receivedAt', event.receivedAt);
      if (event.payload !== undefined) assertPayload('event.payload', event.payload);
      return;
    case 'stepCompleted':
      assertNonNegativeSafeInteger('event.stepIndex', event.stepIndex);
      assertPayload('event.output', event.output);
      return;
    case 'errorOccurred':
      if (typeof event.error !== 'string') throw new InvalidArgumentError('event.error', 'expected a string');
      return;
    case 'processingStarted':
    case 'processingFinished':
      return;
    default:
      throw new InvalidArgumentError('event.kind', `unknown kind ${JSON.stringify((event as { kind: unknown }).kind)}`);
  }
}

function assertString(field: string, value: unknown): void {
  if (typeof value !== 'string') throw new InvalidArgumentError(field, 'expected a string');
}
