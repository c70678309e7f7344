import { assertNonNegativeSafeInteger, assertPayload, ConfigError, InvalidArgumentError } from '@liminal/store';
import type { ConversationEvent } from './ConversationEvent.js';

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
  /** Completed step outputs by step index. */
  readonly steps: ReadonlyMap<number, Uint8Array>;
}

interface MutableProgress {
  received: boolean;
  inProgress: boolean;
  finished: boolean;
  error: string | undefined;
  readonly steps: Map<number, Uint8Array>;
  /** Kept alongside `steps` so `lastCompletedStep` is O(1), not a scan. */
  maxStep: number | undefined;
}

/**
 * The replay-derived state of a conversation. Every update is an idempotent
 * set/map update (like the Rust reference), so replaying a log twice, or a
 * snapshot followed by the events after it, gives the same state.
 *
 * State is grouped per message, which makes every per-message query O(1).
 */
export class ConversationState {
  // Byte arrays are copied with `new Uint8Array(x)`, not `x.slice()`: on a Node
  // Buffer `slice` is a view, and a caller's later write would change the state.
  readonly #messages = new Map<string, MutableProgress>();

  static replay(events: Iterable<ConversationEvent>): ConversationState {
    if (typeof (events as Partial<Iterable<ConversationEvent>> | null)?.[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError('events', 'expected an iterable of ConversationEvent');
    }
    const state = new ConversationState();
    for (const event of events) state.apply(event);
    return state;
  }

  /** Rebuilds a state from `messages()` output (this is how snapshots are restored). */
  static fromProgress(messages: Iterable<MessageProgress>): ConversationState {
    const state = new ConversationState();
    for (const message of messages) {
      let maxStep: number | undefined;
      const steps = new Map<number, Uint8Array>();
      for (const [step, output] of message.steps) {
        steps.set(step, new Uint8Array(output));
        if (maxStep === undefined || step > maxStep) maxStep = step;
      }
      state.#messages.set(message.messageId, {
        received: message.received,
        inProgress: message.inProgress,
        finished: message.finished,
        error: message.error,
        steps,
        maxStep,
      });
    }
    return state;
  }

  /**
   * Applies one event. Rejects malformed events (InvalidArgumentError) before
   * changing anything. A `DurableConversation` applies its own events; calling
   * this on `conversation.state` would make it disagree with the log.
   */
  apply(event: ConversationEvent): void {
    assertEvent(event);
    const message = this.#progress(event.messageId);
    switch (event.kind) {
      case 'messageReceived':
        message.received = true;
        break;
      case 'processingStarted':
        message.inProgress = true;
        break;
      case 'stepCompleted':
        message.steps.set(event.stepIndex, new Uint8Array(event.output));
        if (message.maxStep === undefined || event.stepIndex > message.maxStep) message.maxStep = event.stepIndex;
        break;
      case 'processingFinished':
        message.finished = true;
        message.inProgress = false;
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

  /** A copy of the recorded output of a completed step, so a resumed worker reuses it instead of redoing the step. */
  stepOutput(messageId: string, stepIndex: number): Uint8Array | undefined {
    const output = this.#messages.get(messageId)?.steps.get(stepIndex);
    return output && new Uint8Array(output);
  }

  /**
   * Same rule as the Rust reference: finished -> skip; received -> resume at
   * `nextStepIndex` (an errored, unfinished message resumes too); otherwise start.
   */
  redeliveryDecision(messageId: string): RedeliveryDecision {
    if (this.isFullyProcessed(messageId)) return { kind: 'skip' };
    if (this.hasReceived(messageId)) return { kind: 'resumeFrom', step: this.nextStepIndex(messageId) };
    return { kind: 'start' };
  }

  get messageCount(): number {
    return this.#messages.size;
  }

  /** Every message the log mentions, in first-mention order. */
  *messages(): IterableIterator<MessageProgress> {
    for (const [messageId, m] of this.#messages) {
      yield {
        messageId,
        received: m.received,
        inProgress: m.inProgress,
        finished: m.finished,
        ...(m.error === undefined ? {} : { error: m.error }),
        steps: m.steps,
      };
    }
  }

  clone(): ConversationState {
    return ConversationState.fromProgress(this.messages());
  }

  #progress(messageId: string): MutableProgress {
    let message = this.#messages.get(messageId);
    if (message === undefined) {
      message = { received: false, inProgress: false, finished: false, error: undefined, steps: new Map(), maxStep: undefined };
      this.#messages.set(messageId, message);
    }
    return message;
  }
}

/** Validates an event built by a caller; decoded events already satisfy this. */
export function assertEvent(event: ConversationEvent): void {
  if (typeof event !== 'object' || event === null) throw new InvalidArgumentError('event', 'expected an object');
  if (typeof event.messageId !== 'string') throw new InvalidArgumentError('event.messageId', 'expected a string');
  switch (event.kind) {
    case 'messageReceived':
      assertNonNegativeSafeInteger('event.receivedAt', event.receivedAt);
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
