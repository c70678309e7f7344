import { fromPromise } from 'xstate';
import type { ConversationContext, ConversationLogEntry, RegisteredCompensation } from '../conversationTypes.js';
import type { CompensationCause } from '../DurableSteps.js';
import { CompensationInterruptedError } from '../errors.js';
import { attemptCompensation, type CompensationResult } from '../steps.js';
import type { LooseEnqueue } from './turns.js';

/** The id of the child running a conversation's compensations. */
export const compensationsId = 'compensations';

/** The run itself comes from the journal (durable) or the registered closures (ephemeral). */
export const compensationActors = {
  compensations: fromPromise<CompensationResult[], { run: () => Promise<CompensationResult[]> }>(({ input }) => input.run()),
};

/**
 * Entering `compensating`: every turn stops first (the conversation is about
 * to fail, so nothing it does now is kept), then the run starts: a durable
 * journal's, from its log (`cause` is absent when it resumes one there), or
 * the registered closures.
 */
export function startCompensations(enqueue: LooseEnqueue, context: ConversationContext, cause: CompensationCause | undefined): void {
  const { journal } = context;
  const run = journal.kind === 'durable' ? () => journal.compensate(cause) : () => compensateInMemory(context.compensations, journal.compensationAttempts);
  for (const turn of context.turns) enqueue.stopChild(turn.actorId);
  enqueue.assign({ ...context, turns: [] });
  enqueue.spawnChild('compensations', { id: compensationsId, input: { run } });
}

/** Ephemeral mode: the registered closures, newest first; one failure does not stop the rest. */
async function compensateInMemory(compensations: readonly RegisteredCompensation[], attempts: number): Promise<CompensationResult[]> {
  const results: CompensationResult[] = [];
  for (const { participant, messageId, step, stepIndex, run } of [...compensations].reverse()) {
    const outcome = await attemptCompensation(run, attempts);
    results.push({ participant, messageId, step, stepIndex, compensation: undefined, outcome });
  }
  return results;
}

export function compensationEntries(results: readonly CompensationResult[]): ConversationLogEntry[] {
  return results.map(({ participant, messageId, step, stepIndex, outcome }): ConversationLogEntry => {
    const where = { participant, messageId, step, stepIndex };
    switch (outcome.kind) {
      case 'compensated':
        return { kind: 'compensated', ...where, attempts: outcome.attempts };
      case 'failed':
        return { kind: 'compensationFailed', ...where, outcome: 'failed', error: outcome.error };
      case 'interrupted':
        return { kind: 'compensationFailed', ...where, outcome: 'interrupted', error: new CompensationInterruptedError(messageId, step) };
    }
  });
}
