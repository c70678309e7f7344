import type { SupervisorOptions } from '@liminal/actors';
import { LiminalError } from '@liminal/store';
import type { ParticipantKind } from './saga.js';

/**
 * The options each level of the demo passes to `createSupervisor` (OTP
 * semantics): more than `intensity` restarts within `periodMs` and the
 * supervisor gives up and escalates to its parent.
 */
export type SupervisorSpec = Required<Pick<SupervisorOptions, 'strategy' | 'intensity' | 'periodMs'>>;

export const participantSupervision: SupervisorSpec = { strategy: 'oneForOne', intensity: 50, periodMs: 1_000 };
export const partitionSupervision: SupervisorSpec = { strategy: 'oneForOne', intensity: 20, periodMs: 10_000 };
export const workerSupervision: SupervisorSpec = { strategy: 'oneForOne', intensity: 100, periodMs: 60_000 };

export function describeSpec(spec: SupervisorSpec): string {
  return `${spec.strategy}, intensity ${spec.intensity} per ${spec.periodMs} ms`;
}

/** An injected participant crash: the demo's stand-in for a bug or an OOM in one participant. */
export class ParticipantCrash extends LiminalError {
  readonly code = 'PARTICIPANT_CRASH';

  constructor(
    readonly participant: ParticipantKind,
    readonly moment: 'beforeEffect' | 'afterEffect',
  ) {
    super(`${participant} crashed ${moment === 'beforeEffect' ? 'before' : 'after'} its side effect`);
  }
}
