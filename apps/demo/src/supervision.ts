import { LiminalError } from '@liminal/store';
import type { ParticipantKind } from './saga.js';

/** How a partition supervisor restarts its participants (OTP semantics). */
export interface SupervisorSpec {
  readonly strategy: 'oneForOne' | 'oneForAll' | 'restForOne';
  /** More than this many restarts within `periodMs` and the supervisor gives up and escalates. */
  readonly intensity: number;
  readonly periodMs: number;
}

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

/** A supervisor exceeded its restart intensity; its parent decides what happens next. */
export class RestartIntensityExceeded extends LiminalError {
  readonly code = 'RESTART_INTENSITY_EXCEEDED';

  constructor(
    readonly supervisor: string,
    readonly spec: SupervisorSpec,
  ) {
    super(`${supervisor}: more than ${spec.intensity} restarts in ${spec.periodMs} ms`);
  }
}

/**
 * Counts restarts in a sliding window, like an OTP supervisor: `restart()`
 * records one and throws `RestartIntensityExceeded` when the window holds
 * more than `intensity`.
 */
export class RestartBudget {
  readonly #times: number[] = [];

  constructor(
    readonly name: string,
    readonly spec: SupervisorSpec,
    readonly now: () => number = Date.now,
  ) {}

  restart(): void {
    const now = this.now();
    this.#times.push(now);
    while (this.#times.length > 0 && (this.#times[0] ?? now) <= now - this.spec.periodMs) this.#times.shift();
    if (this.#times.length > this.spec.intensity) throw new RestartIntensityExceeded(this.name, this.spec);
  }
}
