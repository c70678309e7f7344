import type { WorkerMetrics } from './metrics.js';
import type { ParticipantKind } from './saga.js';

/** What one worker process has done so far; sent to the coordinator over IPC as a running total. */
export interface WorkerStats {
  /** Orders whose conversation finished in this process. */
  processed: number;
  steps: number;
  /** Compensations (refunds, stock releases) run by order conversations in this process. */
  compensationsRun: number;
  crashesInjected: number;
  /** Participant restarts by the partition supervisors. */
  participantRestarts: number;
  /** Whole-partition restarts (a supervisor gave up, or the store failed mid-step). */
  partitionRestarts: number;
  duplicatesSuppressed: number;
  redeliveriesSkipped: number;
  /** Times the store could not be reached and the worker waited to reconnect. */
  storeOutages: number;
  restartsByParticipant: Record<ParticipantKind, number>;
}

export function emptyStats(): WorkerStats {
  return {
    processed: 0,
    steps: 0,
    compensationsRun: 0,
    crashesInjected: 0,
    participantRestarts: 0,
    partitionRestarts: 0,
    duplicatesSuppressed: 0,
    redeliveriesSkipped: 0,
    storeOutages: 0,
    restartsByParticipant: { validate: 0, reserveStock: 0, charge: 0, notify: 0 },
  };
}

export function addStats(into: WorkerStats, from: WorkerStats): WorkerStats {
  for (const key of Object.keys(into) as (keyof WorkerStats)[]) {
    if (key === 'restartsByParticipant') continue;
    into[key] += from[key];
  }
  for (const kind of Object.keys(into.restartsByParticipant) as ParticipantKind[]) {
    into.restartsByParticipant[kind] += from.restartsByParticipant[kind];
  }
  return into;
}

/** Messages between the coordinator and its worker processes. */
export type WorkerMessage =
  | { readonly type: 'stats'; readonly stats: WorkerStats }
  /** The worker's conversation metrics (only with `--metrics-port`). */
  | { readonly type: 'metrics'; readonly metrics: WorkerMetrics }
  | { readonly type: 'done' };

export type CoordinatorMessage = { readonly type: 'stop' };
