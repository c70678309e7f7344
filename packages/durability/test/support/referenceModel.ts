import type { ConversationEvent, ConversationState, RedeliveryDecision } from '../../src/index.js';

/**
 * A deliberately naive `ConversationState` (sets and maps,
 * `last_completed_step` by scanning every completed step), to check the
 * O(1) per-message implementation against. One deliberate difference: a
 * finished message keeps only its last step's output (Liminal drops the
 * others so snapshots stay small; a finished message is never resumed).
 */
export class ReferenceModel {
  readonly received = new Set<string>();
  readonly inProgress = new Set<string>();
  readonly completed = new Map<string, { messageId: string; step: number; output: Uint8Array }>();
  readonly finished = new Set<string>();
  readonly errored = new Map<string, string>();
  readonly mentioned = new Set<string>();
  /** The message a receipt carried, while it is unfinished. */
  readonly payloads = new Map<string, Uint8Array>();

  static replay(events: readonly ConversationEvent[]): ReferenceModel {
    const model = new ReferenceModel();
    for (const event of events) model.apply(event);
    return model;
  }

  apply(event: ConversationEvent): void {
    // Lifecycle events say nothing about messages (the header is checked on its own).
    if (!('messageId' in event)) return;
    this.mentioned.add(event.messageId);
    switch (event.kind) {
      case 'messageReceived':
        this.received.add(event.messageId);
        if (event.payload !== undefined && !this.payloads.has(event.messageId) && !this.finished.has(event.messageId)) this.payloads.set(event.messageId, event.payload);
        break;
      case 'processingStarted':
        this.inProgress.add(event.messageId);
        break;
      case 'stepCompleted':
        this.completed.set(JSON.stringify([event.messageId, event.stepIndex]), {
          messageId: event.messageId,
          step: event.stepIndex,
          output: event.output,
        });
        if (this.finished.has(event.messageId)) this.#keepOnlyLastOutput(event.messageId);
        break;
      case 'processingFinished':
        this.finished.add(event.messageId);
        this.payloads.delete(event.messageId);
        this.inProgress.delete(event.messageId);
        this.#keepOnlyLastOutput(event.messageId);
        break;
      case 'errorOccurred':
        this.errored.set(event.messageId, event.error);
        this.inProgress.delete(event.messageId);
        break;
    }
  }

  #keepOnlyLastOutput(id: string): void {
    const last = this.lastCompletedStep(id);
    for (const [key, { messageId, step }] of this.completed) if (messageId === id && step !== last) this.completed.delete(key);
  }

  lastCompletedStep(messageId: string): number | undefined {
    let max: number | undefined;
    for (const { messageId: id, step } of this.completed.values()) if (id === messageId && (max === undefined || step > max)) max = step;
    return max;
  }

  redeliveryDecision(messageId: string): RedeliveryDecision {
    if (this.finished.has(messageId)) return { kind: 'skip' };
    if (this.received.has(messageId)) return { kind: 'resumeFrom', step: (this.lastCompletedStep(messageId) ?? -1) + 1 };
    return { kind: 'start' };
  }
}

/** Asserts (by returning a comparable description) that `state` answers every query like `model`. */
export function describeModel(model: ReferenceModel, ids: Iterable<string>) {
  return [...ids].sort().map((id) => ({
    id,
    received: model.received.has(id),
    inProgress: model.inProgress.has(id),
    finished: model.finished.has(id),
    error: model.errored.get(id),
    payload: model.received.has(id) ? model.payloads.get(id) : undefined,
    last: model.lastCompletedStep(id),
    decision: model.redeliveryDecision(id),
    steps: [...model.completed.values()]
      .filter((c) => c.messageId === id)
      .map((c) => [c.step, [...c.output]] as const)
      .sort((a, b) => a[0] - b[0]),
  }));
}

export function describeState(state: ConversationState, ids: Iterable<string>) {
  return [...ids].sort().map((id) => {
    const steps = [...state.messages()].find((m) => m.messageId === id)?.steps ?? new Map<number, Uint8Array>();
    return {
      id,
      received: state.hasReceived(id),
      inProgress: state.isInProgress(id),
      finished: state.isFullyProcessed(id),
      error: state.errorOf(id),
      payload: [...state.unfinishedMessages()].find((m) => m.messageId === id)?.payload,
      last: state.lastCompletedStep(id),
      decision: state.redeliveryDecision(id),
      steps: [...steps.keys()].map((step) => [step, [...state.stepOutput(id, step)!]] as const).sort((a, b) => a[0] - b[0]),
    };
  });
}
