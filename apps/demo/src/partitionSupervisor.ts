import { createSupervisor, SupervisorEscalationError } from '@liminal/actors';
import type { ChannelMetrics } from '@liminal/channels';
import type { GroupMember } from '@liminal/durability';
import { errorMessage, type DurableStore } from '@liminal/store';
import { createActor, fromPromise } from 'xstate';
import type { Run } from './manifest.js';
import { orderHandler } from './partitionWorker.js';
import type { WorkerStats } from './stats.js';
import { partitionSupervision, type SupervisorSpec } from './supervision.js';

export interface MemberSupervisorOptions {
  readonly store: DurableStore;
  readonly run: Run;
  /** This process's membership in the run's worker group: it decides which partitions are ours. */
  readonly member: GroupMember;
  readonly crashRate: number;
  readonly stats: WorkerStats;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** Default `partitionSupervision`. */
  readonly spec?: SupervisorSpec;
  /** Conversation phases and step latencies go here when set. */
  readonly metrics?: ChannelMetrics;
  /**
   * Clock (epoch ms) of every restart window here: this member-run supervisor's
   * and each partition's participant supervisor; default `Date.now`. A test
   * freezes it so escalation depends on the restart count, not the machine's speed.
   */
  readonly restartClock?: () => number;
}

interface RunInput {
  readonly ended: () => void;
}

/**
 * Runs the group member's `run` as an XState actor under a `createSupervisor`
 * from @liminal/actors. A crash that escapes the handler (a participant
 * supervisor giving up, a fenced journal write) reaches the member as a failed
 * message (`failed`; the member would retry it in place): here it stops the
 * run and fails the actor with that crash, and the supervisor restarts the
 * run with a fresh handler, which reopens every partition from the durable
 * logs. A store outage is not a crash: the member waits it out. Resolves once
 * `signal` stopped the run, or rejects with `SupervisorEscalationError` when
 * restarts exceed the intensity.
 */
export function superviseMember(options: MemberSupervisorOptions): Promise<void> {
  const { store, run, member, crashRate, stats, signal, log } = options;
  const spec = options.spec ?? partitionSupervision;
  let starts = 0;
  const memberRun = fromPromise<void, RunInput>(async ({ input, signal: stopped }) => {
    const handler = orderHandler({ store, run, crashRate, stats, incarnation: starts++, metrics: options.metrics, restartClock: options.restartClock });
    const forget = member.on('revoked', handler.forget);
    const crashed = new AbortController();
    let crash: { readonly error: unknown } | undefined;
    const onFailed = member.on('failed', (failure) => {
      crash ??= { error: failure.cause };
      crashed.abort();
    });
    try {
      await member.run(handler.handle, { signal: AbortSignal.any([stopped, signal, crashed.signal]) });
    } finally {
      forget();
      onFailed();
      handler.close();
    }
    if (crash !== undefined) throw crash.error;
    input.ended();
  });
  return new Promise((resolve, reject) => {
    const supervisor = createActor(
      createSupervisor({
        strategy: spec.strategy,
        intensity: spec.intensity,
        periodMs: spec.periodMs,
        ...(options.restartClock === undefined ? {} : { now: options.restartClock }),
        children: [
          {
            id: 'member-run',
            logic: memberRun,
            // Transient: restarted after a crash, left alone once stopped on purpose.
            restart: 'transient' as const,
            input: {
              ended: () => {
                supervisor.stop();
                resolve();
              },
            } satisfies RunInput,
          },
        ],
      }),
    );
    const lastCrash = new Map<string, string>();
    supervisor.on('supervisor.crash', (event) => {
      lastCrash.set(event.child, errorMessage(event.error));
    });
    supervisor.on('supervisor.restart', (event) => {
      stats.partitionRestarts += 1;
      log(`${event.child} crashed (${lastCrash.get(event.child) ?? 'unknown'}); its supervisor restarted it from the durable logs`);
    });
    supervisor.subscribe({
      error: (error) => reject(error instanceof SupervisorEscalationError ? error : new SupervisorEscalationError('partitions', 'unknown', spec.intensity, spec.periodMs, error)),
    });
    supervisor.start();
  });
}
