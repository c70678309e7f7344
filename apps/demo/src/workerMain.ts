/**
 * One worker process (spawned by the coordinator, never run by hand): drives
 * the partitions `p` with `p % workers === index` until they are drained,
 * reporting its running totals over IPC. Each partition is an XState actor
 * under a `createSupervisor` from @liminal/actors; when that supervisor
 * escalates, the process exits and the coordinator restarts it. Killing it at
 * any moment loses nothing: the restarted worker with the same index takes
 * the partitions over (new fencing epoch) and resumes from the durable logs.
 */
import { createSupervisor, SupervisorEscalationError } from '@liminal/actors';
import type { DurableStore } from '@liminal/store';
import { createActor, fromPromise } from 'xstate';
import { currentRun, type Run } from './manifest.js';
import { drivePartition, isOutage, sleep, type PartitionEnd } from './partitionWorker.js';
import { emptyStats, type CoordinatorMessage, type WorkerMessage } from './stats.js';
import type { StoreLocation } from './storeUrl.js';
import { openDemoStore } from './storeUrl.js';
import { partitionSupervision } from './supervision.js';

export interface WorkerConfig {
  readonly location: StoreLocation;
  readonly run: number;
  readonly index: number;
  readonly workers: number;
  readonly crashRate: number;
}

interface PartitionInput {
  readonly partition: number;
  readonly ended: (end: PartitionEnd) => void;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const stats = emptyStats();
const abort = new AbortController();
const send = (message: WorkerMessage) => process.send?.(message);
const log = (line: string) => process.stderr.write(`[worker ${config.index}] ${line}\n`);

// Ctrl-C reaches the whole process group: stop at the next message boundary and let the coordinator report.
process.on('SIGINT', () => abort.abort());
process.on('message', (message: CoordinatorMessage) => {
  if (message.type === 'stop') abort.abort();
});
let leaving = false;
// An orphan worker (coordinator killed) must not keep running on its own.
process.on('disconnect', () => {
  if (!leaving) process.exit(0);
});

const reporter = setInterval(() => send({ type: 'stats', stats }), 100);

let store: DurableStore | undefined;
try {
  const connected = await connect(config.location, abort.signal);
  store = connected;
  const run = await currentRun(connected);
  if (run?.run !== config.run) throw new Error(`the store's current run is ${String(run?.run)}, not ${config.run}`);
  const drained = await superviseAll(connected, run);
  await leave(drained ? { type: 'done' } : undefined, 0);
} catch (error) {
  log(`giving up: ${error instanceof Error ? error.message : String(error)}`);
  await leave(undefined, 70);
}

/**
 * Runs one supervised actor per owned partition (one-for-one: a crashed
 * partition restarts alone) and resolves when all of them have ended, or
 * rejects with `SupervisorEscalationError` when restarts exceed the intensity.
 * Resolves to true when every partition was drained (not stopped or fenced).
 */
function superviseAll(connected: DurableStore, run: Run): Promise<boolean> {
  const mine = Array.from({ length: run.partitions }, (_, p) => p).filter((p) => p % config.workers === config.index);
  if (mine.length === 0) return Promise.resolve(true);
  const starts = new Map<number, number>();
  const partitionActor = fromPromise<PartitionEnd, PartitionInput>(async ({ input, signal }) => {
    const incarnation = starts.get(input.partition) ?? 0;
    starts.set(input.partition, incarnation + 1);
    const stop = AbortSignal.any([signal, abort.signal]);
    const end = await drivePartition({ store: connected, run, partition: input.partition, crashRate: config.crashRate, stats, signal: stop, log, incarnation });
    input.ended(end);
    return end;
  });
  return new Promise((resolve, reject) => {
    const ended = new Map<number, PartitionEnd>();
    const supervisor = createActor(
      createSupervisor({
        strategy: partitionSupervision.strategy,
        intensity: partitionSupervision.intensity,
        periodMs: partitionSupervision.periodMs,
        children: mine.map((partition) => ({
          id: `partition-${partition}`,
          logic: partitionActor,
          // Transient: restarted after a crash, left alone once its partition is drained.
          restart: 'transient' as const,
          input: {
            partition,
            ended: (end) => {
              ended.set(partition, end);
              if (ended.size === mine.length) {
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
      error: (error) => reject(error instanceof SupervisorEscalationError ? error : new Error(String(error))),
    });
    supervisor.start();
  });
}

async function leave(last: WorkerMessage | undefined, exitCode: number): Promise<void> {
  clearInterval(reporter);
  leaving = true;
  await sendAndWait({ type: 'stats', stats });
  if (last !== undefined) await sendAndWait(last);
  await store?.close().catch(() => undefined);
  process.exitCode = exitCode;
  process.disconnect?.();
}

function sendAndWait(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** The store may be down when a worker (re)starts, e.g. during a PostgreSQL restart: keep trying. */
async function connect(location: StoreLocation, signal: AbortSignal): Promise<DurableStore> {
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await openDemoStore(location, 'existing');
    } catch (error) {
      if (signal.aborted || !isOutage(error)) throw error;
      stats.storeOutages += 1;
      await sleep(delay, signal);
    }
  }
}
