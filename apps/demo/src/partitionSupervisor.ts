import { createSupervisor, SupervisorEscalationError } from '@liminal/actors';
import type { ChannelMetrics } from '@liminal/channels';
import type { DurableStore } from '@liminal/store';
import { createActor, fromPromise } from 'xstate';
import type { Run } from './manifest.js';
import { drivePartition, type PartitionEnd } from './partitionWorker.js';
import type { WorkerStats } from './stats.js';
import { partitionSupervision, type SupervisorSpec } from './supervision.js';

export interface PartitionSupervisorOptions {
  readonly store: DurableStore;
  readonly run: Run;
  readonly partitions: readonly number[];
  readonly crashRate: number;
  readonly stats: WorkerStats;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** Default `partitionSupervision`. */
  readonly spec?: SupervisorSpec;
  /** Conversation phases and step latencies go here when set. */
  readonly metrics?: ChannelMetrics;
}

interface PartitionInput {
  readonly partition: number;
  readonly ended: (end: PartitionEnd) => void;
}

/**
 * Runs one XState actor per partition under a `createSupervisor` from
 * @liminal/actors (one-for-one: a crashed partition restarts alone and
 * recovers from the durable logs). Resolves to true when every partition was
 * drained (false if stopped or fenced), or rejects with
 * `SupervisorEscalationError` when restarts exceed the intensity.
 */
export function supervisePartitions(options: PartitionSupervisorOptions): Promise<boolean> {
  const { store, run, partitions, crashRate, stats, signal, log } = options;
  const spec = options.spec ?? partitionSupervision;
  if (partitions.length === 0) return Promise.resolve(true);
  const starts = new Map<number, number>();
  const partitionActor = fromPromise<PartitionEnd, PartitionInput>(async ({ input, signal: stopped }) => {
    const incarnation = starts.get(input.partition) ?? 0;
    starts.set(input.partition, incarnation + 1);
    const end = await drivePartition({
      store,
      run,
      partition: input.partition,
      crashRate,
      stats,
      signal: AbortSignal.any([stopped, signal]),
      log,
      incarnation,
      metrics: options.metrics,
    });
    input.ended(end);
    return end;
  });
  return new Promise((resolve, reject) => {
    const ended = new Map<number, PartitionEnd>();
    const supervisor = createActor(
      createSupervisor({
        strategy: spec.strategy,
        intensity: spec.intensity,
        periodMs: spec.periodMs,
        children: partitions.map((partition) => ({
          id: `partition-${partition}`,
          logic: partitionActor,
          // Transient: restarted after a crash, left alone once its partition is drained.
          restart: 'transient' as const,
          input: {
            partition,
            ended: (end) => {
              ended.set(partition, end);
              if (ended.size === partitions.length) {
                supervisor.stop();
                resolve([...ended.values()].every((e) => e === 'drained'));
              }
            },
          } satisfies PartitionInput,
        })),
      }),
    );
    const lastCrash = new Map<string, string>();
    supervisor.on('supervisor.crash', (event) => {
      lastCrash.set(event.child, event.error instanceof Error ? event.error.message : String(event.error));
    });
    supervisor.on('supervisor.restart', (event) => {
      stats.partitionRestarts += 1;
      log(`${event.child} crashed (${lastCrash.get(event.child) ?? 'unknown'}); its supervisor restarted it from the durable log`);
    });
    supervisor.subscribe({
      error: (error) => reject(error instanceof SupervisorEscalationError ? error : new SupervisorEscalationError('partitions', 'unknown', spec.intensity, spec.periodMs, error)),
    });
    supervisor.start();
  });
}
