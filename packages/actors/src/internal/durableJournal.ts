import type { DurableSteps } from '../DurableSteps.js';
import { NonDeterminismError } from '../errors.js';
import type { StepObserver } from '../steps.js';
import { decodeEnvelope, encodeEnvelope } from './conversationPersistence.js';
import type { RecordingJournal } from './TurnJournal.js';

/**
 * Durable mode's journal over `DurableSteps`. The first failed write is kept
 * and reported through `onFailure` (the conversation fails with
 * `journalFailed`); from then on every write rejects with it, so nothing the
 * conversation reports later rests on a log with a hole in it.
 */
export function durableJournal(steps: DurableSteps, onFailure: (error: unknown) => void, onStep: StepObserver | undefined): RecordingJournal {
  let broken: { readonly error: unknown } | undefined;
  /** Messages whose receipt is written but not yet in the log: already received, for a redelivery. */
  const receiving = new Set<string>();
  const guarded = async <T>(write: () => Promise<T>): Promise<T> => {
    if (broken !== undefined) throw broken.error;
    try {
      return await write();
    } catch (error) {
      // Refused before anything was written: the journal is intact.
      if (error instanceof NonDeterminismError) throw error;
      if (broken === undefined) {
        broken = { error };
        onFailure(error);
      }
      throw broken.error;
    }
  };
  return {
    kind: 'durable',
    received: (envelope) => {
      receiving.add(envelope.id);
      void guarded(() => steps.receive(envelope.id, encodeEnvelope(envelope)))
        .catch(() => {})
        .finally(() => receiving.delete(envelope.id));
    },
    unfinished: () => steps.unfinished().map(({ payload }) => decodeEnvelope(payload)),
    admit: (envelope, participant) =>
      guarded(async () => {
        const admission = await steps.begin(envelope.id, { participant, ...(onStep === undefined ? {} : { onStep }) });
        return admission.kind === 'skip' ? admission : { kind: 'run', steps: admission.steps };
      }),
    finish: (messageId, reply) => guarded(async () => (await steps.finish(messageId, reply), reply)),
    crashed: (messageId, error) => void guarded(() => steps.recordError(messageId, error)).catch(() => {}),
    lifecycle: (event) => void guarded(() => steps.recordLifecycle(event)).catch(() => {}),
    compensate: (cause) => guarded(() => steps.compensate(cause)),
    hasReceived: (messageId) => receiving.has(messageId) || steps.conversation.state.hasReceived(messageId),
    get compensationStarted() {
      return steps.compensationStarted;
    },
    flush: () => steps.flush(),
    failure: () => broken,
  };
}
