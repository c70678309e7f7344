import { assertConversationEvent, assertLifecycleEvent, DurableConversation, type ConversationEvent, type LifecycleEvent, type RedeliveryDecision } from '@liminal/durability';
import { assertPayload, ConfigError, DecodeError, type DurableStore } from '@liminal/store';
import { NonDeterminismError } from './errors.js';
import { describeError } from './internal/describeError.js';
import { JournalWriter, type EventBuilder } from './internal/JournalWriter.js';
import { decodeStepRecord, encodeStepRecord, recordedName, type FinalRecord, type RecordedCompensation, type StepRecord } from './internal/stepRecord.js';
import {
  assertTimer,
  systemTimers,
  waitUntil,
  type StepTimers,
  assertCompensateOption,
  assertCompensationOptions,
  attemptCompensation,
  codecOf,
  compensationOf,
  DEFAULT_COMPENSATION_ATTEMPTS,
  jsonCodec,
  namedHandler,
  notify,
  observedRun,
  type CompensationOutcome,
  type CompensationRegistry,
  type CompensationResult,
  type RegisterCompensation,
  type StepContext,
  type StepObserver,
} from './steps.js';

/**
 * The log's own message for the compensation run (the saga), next to the
 * conversation's messages: step 0 is the plan, then per compensation a
 * `started` record before it runs and an outcome after. User message ids may
 * not start with `liminal:`.
 */
export const COMPENSATION_MESSAGE_ID = 'liminal:compensation';

/** What `DurableSteps.begin` decided for a delivered message. */
export type MessageAdmission =
  /** The message was fully processed before: do nothing; `reply` is the reply recorded by `finish` (`undefined`: none). */
  | { readonly kind: 'skip'; readonly reply: unknown }
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
  /** Who handles the message, recorded with the compensations its steps register. */
  readonly participant?: string;
}

export interface DurableStepsOptions {
  /** Handlers for steps declaring `compensate: '<name>'`. */
  readonly compensations?: CompensationRegistry;
  /** How many times `compensate` tries a throwing handler before recording it failed (default 3). */
  readonly compensationAttempts?: number;
  /**
   * A compensation recorded `started` without an outcome (its process died
   * while it ran): `'report'` (default) records it `interrupted` and never runs
   * it again (at most once); `'runAgain'` runs it again (at least once: only
   * for handlers that are idempotent, e.g. guarded by a dedup key).
   */
  readonly interruptedCompensations?: InterruptedCompensations;
  /** The clock of `steps.sleep` / `sleepUntil` (default: the system clock). */
  readonly timers?: StepTimers;
}

export type InterruptedCompensations = 'report' | 'runAgain';

/** What `compensate` was told about the crash that started it, kept in the plan. */
export interface CompensationCause {
  readonly participant: string;
  readonly messageId: string;
  readonly error: unknown;
}

interface PlannedCompensation extends RecordedCompensation {
  readonly messageId: string;
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
  readonly #writer: JournalWriter;

  readonly #compensations: CompensationRegistry;
  readonly #attempts: number;
  readonly #interrupted: InterruptedCompensations;
  readonly #timers: StepTimers;
  /** Per message being run: how many steps its handler asked for so far (checked against the journal at `finish`). */
  readonly #requested = new Map<string, number>();

  private constructor(
    readonly conversation: DurableConversation,
    options: DurableStepsOptions,
  ) {
    this.#compensations = options.compensations ?? {};
    this.#attempts = options.compensationAttempts ?? DEFAULT_COMPENSATION_ATTEMPTS;
    this.#interrupted = options.interruptedCompensations ?? 'report';
    this.#timers = options.timers ?? systemTimers;
    this.#writer = new JournalWriter(conversation);
  }

  /** Recovers (or starts) the conversation stream `conversationId` in `store`. */
  static async open(store: DurableStore, conversationId: string, options: DurableStepsOptions = {}): Promise<DurableSteps> {
    assertStepsOptions(options);
    return new DurableSteps(await DurableConversation.recover(store, conversationId), options);
  }

  /** Durable steps over a conversation already recovered (e.g. to read its version first). */
  static over(conversation: DurableConversation, options: DurableStepsOptions = {}): DurableSteps {
    assertStepsOptions(options);
    return new DurableSteps(conversation, options);
  }

  get id(): string {
    return this.conversation.id;
  }

  /** A write of `build`'s events, after every earlier write. */
  #write(build: EventBuilder): Promise<void> {
    return this.#writer.serial((commit) => commit(build));
  }

  #recordStep(messageId: string, stepIndex: number, output: Uint8Array): Promise<void> {
    return this.#write(() => [{ kind: 'stepCompleted', messageId, stepIndex, output }]);
  }

  /**
   * Records that `messageId` entered the conversation, with the message
   * itself (`payload`, bytes the caller owns), before any participant takes
   * it: a message waiting behind a busy participant is then in the log, and a
   * reopened conversation finds it in `unfinished()`. A message received
   * before is left as it is.
   */
  receive(messageId: string, payload: Uint8Array): Promise<void> {
    const receivedAt = this.#timers.now();
    const received: ConversationEvent = { kind: 'messageReceived', messageId, receivedAt, payload };
    try {
      assertPayload('payload', payload);
      assertConversationEvent(received);
    } catch (error) {
      return Promise.reject(error);
    }
    // Deferred: it commits with the message's admission, which usually follows at once.
    return this.#writer.defer((log) => (log.received(messageId) ? [] : [received]));
  }

  /** The messages received and not finished whose receipt carries the message, oldest first (the compensation run is not one). */
  unfinished(): { readonly messageId: string; readonly payload: Uint8Array }[] {
    const found: { messageId: string; payload: Uint8Array }[] = [];
    for (const { messageId, payload } of this.conversation.state.unfinishedMessages()) {
      if (messageId !== COMPENSATION_MESSAGE_ID && payload !== undefined) found.push({ messageId, payload });
    }
    return found;
  }

  /** Admits a delivery of `messageId`: skip it, or run it with a step context positioned by the log. */
  async begin(messageId: string, options: BeginOptions = {}): Promise<MessageAdmission> {
    const receivedAt = options.receivedAt ?? Date.now();
    assertConversationEvent({ kind: 'messageReceived', messageId, receivedAt });
    // The receipt (unless the log has it) and the start of processing are one commit.
    const decision = await this.#writer.serial(async (commit) => {
      // Decided inside the commit, against the log as the commit sees it.
      const decided: { value: RedeliveryDecision } = { value: { kind: 'skip' } };
      await commit((log) => {
        let decision = this.conversation.state.redeliveryDecision(messageId);
        if (decision.kind === 'start' && log.received(messageId)) decision = { kind: 'resumeFrom', step: 0 };
        decided.value = decision;
        if (decision.kind === 'skip') return [];
        const started: ConversationEvent = { kind: 'processingStarted', messageId };
        return decision.kind === 'start' ? [{ kind: 'messageReceived', messageId, receivedAt }, started] : [started];
      });
      return decided.value;
    });
    if (decision.kind === 'skip') return { kind: 'skip', reply: this.recordedReply(messageId) };
    this.#requested.set(messageId, 0);
    const resumedAt = decision.kind === 'resumeFrom' ? decision.step : 0;
    const participant = options.participant ?? '';
    return { kind: 'run', steps: this.#steps(messageId, participant, options.onCompensation, options.onStep), resumedAt };
  }

  /** The reply `finish` recorded for a finished message, or `undefined`. */
  recordedReply(messageId: string): unknown {
    return this.#finalRecord(messageId)?.reply?.value;
  }

  #finalRecord(messageId: string): FinalRecord | undefined {
    const last = this.conversation.state.lastCompletedStep(messageId);
    const bytes = last === undefined ? undefined : this.conversation.state.stepOutput(messageId, last);
    if (bytes === undefined) return undefined;
    const record = decodeStepRecord(bytes);
    return record.kind === 'final' ? record.final : undefined;
  }

  /** The compensations the steps of an unfinished message registered. */
  #registeredBy(messageId: string): RecordedCompensation[] {
    const state = this.conversation.state;
    const found: RecordedCompensation[] = [];
    const last = state.lastCompletedStep(messageId) ?? -1;
    for (let stepIndex = 0; stepIndex <= last; stepIndex++) {
      const bytes = state.stepOutput(messageId, stepIndex);
      const record = bytes === undefined ? undefined : decodeStepRecord(bytes);
      if (record?.kind === 'compensable') found.push({ ...record.registration, stepIndex, output: jsonCodec.decode(record.payload) });
    }
    return found;
  }

  /** Appends a conversation-wide event (phase, participant exit, log entry) behind the writes already queued, with the next one. */
  recordLifecycle(event: LifecycleEvent): Promise<void> {
    try {
      assertLifecycleEvent(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer.defer(() => [event]);
  }

  /** Resolves once every write issued so far has settled (whether it succeeded or not). */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /**
   * Records the message finished. With a `reply` (any JSON value but
   * `undefined`), or when its steps registered compensations, first records a
   * final step holding them: the log keeps only the last step of a finished
   * message, and a later `begin` of the same id is then `skip` with that
   * reply, so a redelivered message is answered without running anything.
   */
  finish(messageId: string, reply?: unknown): Promise<void> {
    try {
      this.#assertNoStepLeft(messageId);
    } catch (error) {
      return Promise.reject(error);
    }
    // The final step and the end of the message are one commit.
    return this.#write(() => {
      const finished: ConversationEvent = { kind: 'processingFinished', messageId };
      const compensations = this.#registeredBy(messageId);
      if (reply === undefined && compensations.length === 0) return [finished];
      const final: FinalRecord = { ...(reply === undefined ? {} : { reply: { value: reply } }), compensations };
      const stepIndex = this.conversation.state.nextStepIndex(messageId);
      return [{ kind: 'stepCompleted', messageId, stepIndex, output: encodeStepRecord({ kind: 'final', final }) }, finished];
    });
  }

  /**
   * A handler that finished must have asked for every step its journal
   * recorded: one recorded past the last step it asked for was removed by a
   * deploy (NonDeterminismError, nothing written).
   */
  #assertNoStepLeft(messageId: string): void {
    const requested = this.#requested.get(messageId);
    this.#requested.delete(messageId);
    if (requested === undefined) return;
    const bytes = this.conversation.state.stepOutput(messageId, requested);
    if (bytes === undefined) return;
    const recorded = recordedName(decodeStepRecord(bytes));
    if (recorded !== undefined) throw new NonDeterminismError(this.id, messageId, requested, recorded, undefined);
  }

  recordError(messageId: string, error: unknown): Promise<void> {
    return this.#write(() => [{ kind: 'errorOccurred', messageId, error: describeError(error) }]);
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
      // A non-determinism error leaves the journal as it was: the message did not move.
      if (!(error instanceof NonDeterminismError)) await this.recordError(messageId, error).catch(() => {});
      throw error;
    }
    await this.finish(messageId);
    return { kind: 'completed', value };
  }

  /** Whether a compensation run was started in this log (it may have finished). */
  get compensationStarted(): boolean {
    return this.conversation.state.hasReceived(COMPENSATION_MESSAGE_ID);
  }

  /**
   * Runs every compensation registered in this log, newest first, as durable
   * steps of its own: the plan is recorded first, then each compensation is
   * recorded `started` before it runs and its outcome after. Calling it again
   * (after a crash, in a new process) continues the recorded plan: a finished
   * compensation is not run again, and one that was started but has no
   * outcome is recorded `interrupted` and not run again (at most once: its
   * side effect may or may not have happened, which is what a payments user
   * must reconcile), unless `interruptedCompensations: 'runAgain'`. A throwing handler is tried `compensationAttempts` times
   * in all, then recorded `failed`, and the rest still run. Once every outcome
   * is recorded, returns them all, in run order (and so does every later call).
   */
  async compensate(cause?: CompensationCause): Promise<CompensationResult[]> {
    const state = this.conversation.state;
    const id = COMPENSATION_MESSAGE_ID;
    let plan: PlannedCompensation[];
    const recordedPlan = state.stepOutput(id, 0);
    if (recordedPlan === undefined) {
      plan = this.#planFromLog();
      this.#assertHandlers(plan);
      const planBytes = jsonCodec.encode({ cause: cause && { ...cause, error: describeError(cause.error) }, compensations: plan });
      const receivedAt = Date.now();
      await this.#write((log) => [
        ...(log.received(id) ? [] : [{ kind: 'messageReceived', messageId: id, receivedAt } as const]),
        { kind: 'processingStarted', messageId: id },
        { kind: 'stepCompleted', messageId: id, stepIndex: 0, output: planBytes },
      ]);
    } else {
      plan = decodePlan(recordedPlan);
      this.#assertHandlers(plan);
    }
    const results: CompensationResult[] = [];
    for (const [position, planned] of plan.entries()) {
      const startedIndex = 1 + 2 * position;
      const outcomeIndex = startedIndex + 1;
      const recordedOutcome = state.stepOutput(id, outcomeIndex);
      let outcome: CompensationOutcome;
      if (recordedOutcome !== undefined) {
        outcome = jsonCodec.decode(recordedOutcome) as CompensationOutcome;
      } else {
        const started = state.stepOutput(id, startedIndex) !== undefined;
        if (started && this.#interrupted === 'report') {
          outcome = { kind: 'interrupted' };
        } else {
          if (!started) await this.#recordStep(id, startedIndex, jsonCodec.encode({ started: true }));
          const handler = namedHandler(this.#compensations, planned.compensation, planned.step);
          const info = { messageId: planned.messageId, participant: planned.participant, step: planned.step, stepIndex: planned.stepIndex };
          outcome = await attemptCompensation(() => handler(planned.output, info), this.#attempts);
        }
        const recorded = outcome.kind === 'failed' ? { ...outcome, error: describeError(outcome.error) } : outcome;
        await this.#recordStep(id, outcomeIndex, jsonCodec.encode(recorded));
      }
      const { participant, messageId, step, stepIndex, compensation } = planned;
      results.push({ participant, messageId, step, stepIndex, compensation, outcome });
    }
    // The run is complete once every outcome is recorded. It is never marked
    // finished: the log keeps only the last step of a finished message, and
    // the plan and every outcome must stay readable.
    return results;
  }

  #planFromLog(): PlannedCompensation[] {
    const plan: PlannedCompensation[] = [];
    for (const { messageId, finished } of this.conversation.state.messages()) {
      if (messageId === COMPENSATION_MESSAGE_ID) continue;
      const registered = finished ? (this.#finalRecord(messageId)?.compensations ?? []) : this.#registeredBy(messageId);
      for (const compensation of registered) plan.push({ ...compensation, messageId });
    }
    // Newest first, like unwinding a stack: `order` is the log position the step was recorded at.
    return plan.sort((a, b) => b.order - a.order);
  }

  #assertHandlers(plan: readonly PlannedCompensation[]): void {
    for (const planned of plan) namedHandler(this.#compensations, planned.compensation, planned.step);
  }

  /**
   * The step recorded at `index`, checked against what the handler asks for
   * now: another name, or a timer where a step was (or the reverse), is a
   * NonDeterminismError before anything runs or is written.
   */
  #replayed(messageId: string, index: number, name: string, kind: 'step' | 'timer'): StepRecord | undefined {
    const bytes = this.conversation.state.stepOutput(messageId, index);
    if (bytes === undefined) return undefined;
    const record = decodeStepRecord(bytes);
    const recorded = recordedName(record);
    const recordedKind = record.kind === 'timer' ? 'timer' : 'step';
    if (recorded !== name || recordedKind !== kind) {
      const label = (n: string | undefined, k: string) => (n === undefined ? '(end of message)' : k === 'timer' ? `${n} (sleep)` : n);
      throw new NonDeterminismError(this.id, messageId, index, label(recorded, recordedKind), label(name, kind));
    }
    return record;
  }

  #steps(messageId: string, participant: string, register: RegisterCompensation | undefined, observe: StepObserver | undefined): StepContext {
    let nextIndex = 0;
    const take = () => {
      const index = nextIndex++;
      this.#requested.set(messageId, nextIndex);
      return index;
    };
    const timer = async (name: string, wakeAtIfNew: () => number) => {
      const index = take();
      const recorded = this.#replayed(messageId, index, name, 'timer');
      let wakeAt: number;
      if (recorded?.kind === 'timer') {
        wakeAt = recorded.wakeAt;
      } else {
        wakeAt = wakeAtIfNew();
        // Recorded before waiting: a restart waits for this deadline, not a new one.
        await this.#recordStep(messageId, index, encodeStepRecord({ kind: 'timer', name, wakeAt }));
      }
      await waitUntil(this.#timers, wakeAt);
    };
    return {
      messageId,
      sleep: (name, ms) => {
        assertTimer(name, 'ms', ms);
        return timer(name, () => this.#timers.now() + ms);
      },
      sleepUntil: (name, epochMs) => {
        assertTimer(name, 'epochMs', epochMs);
        return timer(name, () => epochMs);
      },
      step: async (name, run, options) => {
        const compensate = options?.compensate;
        assertCompensateOption(name, compensate);
        if (typeof compensate === 'function') {
          throw new ConfigError(
            `step ${JSON.stringify(name)}: a durable compensation must be a name registered with openConversation({ compensations }) or DurableSteps.open(..., { compensations }), not a closure a new process cannot find`,
          );
        }
        if (compensate !== undefined) {
          namedHandler(this.#compensations, compensate, name);
          if (options?.codec !== undefined) throw new ConfigError(`step ${JSON.stringify(name)}: a step with a named compensation is recorded as JSON; drop its codec`);
        }
        if (typeof name !== 'string' || name === '') throw new ConfigError(`a durable step needs a non-empty name, got ${JSON.stringify(name)}`);
        const index = take();
        const codec = codecOf(options);
        const recorded = this.#replayed(messageId, index, name, 'step');
        let output;
        const where = { messageId, step: name, stepIndex: index };
        if (recorded !== undefined) {
          output = codec.decode(stepPayload(recorded, messageId, index));
          notify(observe, { kind: 'replayed', ...where });
        } else {
          const started = this.#timers.now();
          output = await observedRun(run, where, observe);
          // Journaled with the output, by the steps' clock (injected in tests), for `liminal show`.
          const durationMs = Math.max(0, this.#timers.now() - started);
          const payload = codec.encode(output);
          await this.#write((log) => [
            {
              kind: 'stepCompleted',
              messageId,
              stepIndex: index,
              output: encodeStepRecord(
                compensate === undefined
                  ? { kind: 'step', name, payload, durationMs }
                  : { kind: 'compensable', payload, durationMs, registration: { compensation: compensate, participant, step: name, order: log.nextSeq } },
              ),
            },
          ]);
        }
        const compensation = compensationOf({ messageId, participant, step: name, stepIndex: index }, output, options, this.#compensations);
        if (compensation !== undefined) register?.(compensation);
        return output;
      },
    };
  }
}

function assertStepsOptions(options: DurableStepsOptions): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('DurableSteps options must be an object');
  assertCompensationOptions(options);
  const { interruptedCompensations } = options;
  if (interruptedCompensations !== undefined && interruptedCompensations !== 'report' && interruptedCompensations !== 'runAgain') {
    throw new ConfigError(`interruptedCompensations must be 'report' or 'runAgain', got ${JSON.stringify(interruptedCompensations)}`);
  }
}

function stepPayload(record: StepRecord, messageId: string, index: number): Uint8Array {
  if (record.kind === 'final' || record.kind === 'timer') throw new DecodeError(`message ${JSON.stringify(messageId)}: step ${index} is not a step's output`);
  return record.payload;
}

function decodePlan(bytes: Uint8Array): PlannedCompensation[] {
  const plan = jsonCodec.decode(bytes) as { compensations?: unknown } | undefined;
  if (typeof plan !== 'object' || plan === null || !Array.isArray(plan.compensations)) throw new DecodeError('compensation plan is malformed');
  return plan.compensations as PlannedCompensation[];
}
