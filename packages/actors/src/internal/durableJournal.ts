import type { DurableSteps } from '../DurableSteps.js';
import type { StepObserver } from '../steps.js';
import type { RecordingJournal } from './TurnJournal.js';

/**
 * Durable mode's journal. `finish`/`crashed` are fire-and-forget for the
 * machine (its actions are synchronous); `DurableSteps` keeps them in order,
 * and a failed write is reported through `onFailure` so the conversation fails
 * instead of silently losing its log.
 */
export function durableJournal(steps: DurableSteps, onFailure: (error: unknown) => void, onStep: StepObserver | undefined): RecordingJournal {
  return {
    kind: 'durable',
    admit: async (envelope, register) => {
      const admission = await steps.begin(envelope.id, { onCompensation: register, ...(onStep === undefined ? {} : { onStep }) });
      return admission.kind === 'skip' ? admission : { kind: 'run', steps: admission.steps };
    },
    finish: (messageId) => void steps.finish(messageId).catch(onFailure),
    crashed: (messageId, error) => void steps.recordError(messageId, error).catch(onFailure),
    flush: () => steps.flush(),
  };
}
