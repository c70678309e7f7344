import { DurableConversation } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { codecOf, compensationOf, notify, observedRun, type RegisterCompensation, type StepContext, type StepObserver } from './steps.js';

/** What `DurableSteps.begin` decided for a delivered message. */
export type MessageAdmission =
  /** The message was fully processed before: do nothing. */
  | { readonly kind: 'skip' }
  /** Run the handler; `resumedAt` steps completed on earlier attempts and will replay their outputs. */
  | { readonly kind: 'run'; readonly steps: StepContext; readonly resumedAt: number };

export type StepRunOutcome<T> = { readonly kind: 'skipped' } | { readonly kind: 'completed'; readonly value: T };

export interface BeginOptions {
  /** Epoch milliseconds recorded with a first delivery; `Date.now()` when absent. */
  readonly receivedAt?: number;
  /** Called for each completed or replayed step that declared a compensation. */
  readonly onCompensation?: RegisterCompensation;
  /** Told about every step: run (with its duration), failed, or replayed from the log. */
  readonly onStep?: StepObserver;
}

/**
 * Durable steps for one conversation stream: every step's output is recorded
 * in a `DurableConversation` before the next step runs, so after a crash, a
 * supervisor restart or a new process, redelivering the same message id
 * resumes after the last recorded step and never runs a recorded step again.
 *
 * A step that crashed after its side effect but before its output was recorded
 * runs again on the next attempt: side effects are at-least-once per step and
 * exactly-once per recorded step, so make the side effect idempotent where that gap matters.
 *
 * One `DurableSteps` per conversation id may write at a time; a second writer
 * (another process) is fenced with `SequenceConflictError` and must `open` again.
 */
export class DurableSteps {
  /** Writes go one at a time, in call order: the log takes appends at the expected sequence only. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(readonly conversation: DurableConversation) {}

  /** Recovers (or starts) the conversation stream `conversationId` in `store`. */
  static async open(store: DurableStore, conversationId: string): Promise<DurableSteps> {
    return new DurableSteps(await DurableConversation.recover(store, conversationId));
  }

  get id(): string {
    return this.conversation.id;
  }

  #serial<T>(write: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(write);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Admits a delivery of `messageId`: skip it, or run it with a step context positioned by the log. */
  async begin(messageId: string, options: BeginOptions = {}): Promise<MessageAdmission> {
    const receivedAt = options.receivedAt ?? Date.now();
    const decision = await this.#serial(() => this.conversation.receiveMessage(messageId, receivedAt));
    if (decision.kind === 'skip') return decision;
    await this.#serial(() => this.conversation.recordProcessingStarted(messageId));
    const resumedAt = decision.kind === 'resumeFrom' ? decision.step : 0;
    return { kind: 'run', steps: this.#steps(messageId, options.onCompensation, options.onStep), resumedAt };
  }

  /** Resolves once every write issued so far has settled (whether it succeeded or not). */
  async flush(): Promise<void> {
    await this.#tail;
  }

  finish(messageId: string): Promise<void> {
    return this.#serial(async () => {
      await this.conversation.recordProcessingFinished(messageId);
    });
  }

  recordError(messageId: string, error: unknown): Promise<void> {
    return this.#serial(async () => {
      await this.conversation.recordError(messageId, describe(error));
    });
  }

  /**
   * Processes one message: skips it if it already finished, otherwise runs
   * `handler` (resuming after recorded steps) and records it finished. A
   * throwing handler is recorded as an error and rethrown; the next `run` of
   * the same message id resumes.
   */
  async run<T>(messageId: string, handler: (steps: StepContext) => Promise<T>, options: BeginOptions = {}): Promise<StepRunOutcome<T>> {
    const admission = await this.begin(messageId, options);
    if (admission.kind === 'skip') return { kind: 'skipped' };
    let value: T;
    try {
      value = await handler(admission.steps);
    } catch (error) {
      await this.recordError(messageId, error).catch(() => {});
      throw error;
    }
    await this.finish(messageId);
    return { kind: 'completed', value };
  }

  #steps(messageId: string, register: RegisterCompensation | undefined, observe: StepObserver | undefined): StepContext {
    let nextIndex = 0;
    return {
      messageId,
      step: async (name, run, options) => {
        const index = nextIndex++;
        const codec = codecOf(options);
        const recorded = this.conversation.state.stepOutput(messageId, index);
        let output;
        const where = { messageId, step: name, stepIndex: index };
        if (recorded !== undefined) {
          output = codec.decode(recorded);
          notify(observe, { kind: 'replayed', ...where });
        } else {
          output = await observedRun(run, where, observe);
          const bytes = codec.encode(output);
          await this.#serial(() => this.conversation.recordStepCompleted(messageId, index, bytes));
        }
        const compensation = compensationOf(messageId, index, name, output, options);
        if (compensation !== undefined) register?.(compensation);
        return output;
      },
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
