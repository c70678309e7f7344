/**
 * One worker process: it joins the run's worker group on the orders channel
 * (`channel.join`) and processes whatever partitions the group gives it,
 * until told to stop; then it leaves, handing its partitions over at once.
 * It knows nothing of the other workers: killing it at any moment loses
 * nothing, its partitions are taken over by the others after its lease, and
 * a paused one (SIGSTOP) that comes back writes nothing (lease fencing). Its
 * run is an XState actor under a `createSupervisor` from @liminal/actors;
 * when that supervisor escalates, the process exits. It reports its running
 * totals to the coordinator over IPC.
 */
import { ChannelMetrics } from '@liminal/channels';
import { errorMessage, type DurableStore } from '@liminal/store';
import { currentRun } from './manifest.js';
import { retryOutages } from './outage.js';
import { DurableChannel, type GroupMember } from '@liminal/durability';
import { superviseMember } from './partitionSupervisor.js';
import { emptyStats, type CoordinatorMessage, type WorkerMessage } from './stats.js';
import { openDemoStore, type StoreLocation } from './storeUrl.js';

export interface WorkerConfig {
  readonly location: StoreLocation;
  readonly run: number;
  readonly index: number;
  readonly crashRate: number;
  /** Collect conversation metrics and send them to the coordinator (`--metrics-port`). */
  readonly metrics: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const stats = emptyStats();
const abort = new AbortController();
// A dead coordinator must not turn a periodic report into an unhandled 'error' event: the disconnect handler exits.
const send = (message: WorkerMessage) => process.send?.(message, undefined, {}, () => undefined);
const log = (line: string) => process.stderr.write(`[worker ${config.index}] ${line}\n`);

// Ctrl-C reaches the whole process group: stop at the next message boundary and let the coordinator report.
// SIGTERM (a deploy, the chaos harness) is a graceful leave too.
process.on('SIGINT', () => abort.abort());
process.on('SIGTERM', () => abort.abort());
process.on('message', (message: CoordinatorMessage) => {
  if (message.type === 'stop') abort.abort();
});
let leaving = false;
// An orphan worker (coordinator killed) must not keep running on its own.
process.on('disconnect', () => {
  if (!leaving) process.exit(0);
});

const reporter = setInterval(() => send({ type: 'stats', stats }), 100);
const metrics = config.metrics ? new ChannelMetrics() : undefined;
const sendMetrics = async () => {
  if (metrics !== undefined) send({ type: 'metrics', metrics: await metrics.registry.getMetricsAsJSON() });
};
const metricsReporter = metrics === undefined ? undefined : setInterval(() => void sendMetrics(), 250);

let store: DurableStore | undefined;
let member: GroupMember | undefined;
try {
  // The store may be down when a worker (re)starts, e.g. during a PostgreSQL restart: keep trying.
  const connected = await retryOutages(() => openDemoStore(config.location, 'existing'), abort.signal, () => (stats.storeOutages += 1));
  store = connected;
  const run = await currentRun(connected);
  if (run?.run !== config.run) throw new Error(`the store's current run is ${String(run?.run)}, not ${config.run}`);
  const channel = new DurableChannel(connected, run.names.channel, { partitions: run.partitions });
  const joined = await retryOutages(() => channel.join(run.names.consumerId, { memberId: `worker-${config.index}-${process.pid}` }), abort.signal, () => (stats.storeOutages += 1));
  member = joined;
  const holds = () => log(`holds partitions ${joined.assignment().join(', ') || 'none'}`);
  joined.on('assigned', holds);
  joined.on('revoked', holds);
  joined.on('lost', (error) => log(`lost the lease of partition ${error.partition} (${error.code}): dropped it, nothing written`));
  holds();
  await superviseMember({ store: connected, run, member: joined, crashRate: config.crashRate, stats, signal: abort.signal, log, ...(metrics === undefined ? {} : { metrics }) });
  await leave({ type: 'done' }, 0);
} catch (error) {
  log(`giving up: ${errorMessage(error)}`);
  await leave(undefined, 70);
}

async function leave(last: WorkerMessage | undefined, exitCode: number): Promise<void> {
  clearInterval(reporter);
  clearInterval(metricsReporter);
  leaving = true;
  await sendAndWait({ type: 'stats', stats });
  if (metrics !== undefined) await sendAndWait({ type: 'metrics', metrics: await metrics.registry.getMetricsAsJSON() });
  // Hand the partitions over at once; a worker that cannot (store down) is taken over after its lease.
  await member?.leave().catch(() => undefined);
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
