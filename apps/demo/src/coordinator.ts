import { serveMetrics, type MetricsServer } from '@liminal/channels';
import { DurableChannel } from '@liminal/durability';
import { errorMessage, type DurableStore } from '@liminal/store';
import { UsageError } from './errors.js';
import { committedOffset, startOrResume, type RequestedRun, type Run } from './manifest.js';
import { DemoMetrics } from './metrics.js';
import { isOutage, retryOutages, sleep } from './outage.js';
import { produce } from './producer.js';
import { progressView } from './progress.js';
import { printSummary } from './summary.js';
import { describeSpec, participantSupervision, partitionSupervision, workerSupervision } from './supervision.js';
import { cliStoreUrl, describeLocation, openDemoStore, type StoreLocation } from './storeUrl.js';
import { isClean, verifyRun } from './verify.js';
import { WorkerPool } from './workers.js';

export interface DemoOptions {
  readonly location: StoreLocation;
  readonly requested: RequestedRun;
  readonly workers: number;
  readonly crashRate: number;
  /** `--rate`: publish at most this many orders a second (default: as fast as the channel takes them). */
  readonly ordersPerSecond?: number;
  /** Serve Prometheus `/metrics` on 127.0.0.1 at this port while running (0: any free port). */
  readonly metricsPort?: number;
}

/** Exit codes of a run: 0 verified clean, 1 lost or duplicated effects (or a fatal failure), 130 interrupted. */
export type RunExit = 0 | 1 | 130;

/**
 * The coordinator process: starts or resumes a run, publishes the orders,
 * starts the worker processes (they share the partitions through a worker
 * group; nothing is assigned here), shows progress, then reads the ledger back
 * and prints the summary.
 */
export async function runDemo(options: DemoOptions, out: NodeJS.WriteStream): Promise<RunExit> {
  // Before the store: a port that cannot be served is bad input, and nothing is written for it.
  const metrics = options.metricsPort === undefined ? undefined : new DemoMetrics();
  const server = metrics === undefined ? undefined : await serve(metrics, options.metricsPort ?? 0);
  try {
    const store = await openDemoStore(options.location, 'create');
    try {
      return await coordinate(store, options, out, metrics === undefined || server === undefined ? undefined : { metrics, url: server.url });
    } finally {
      await store.close();
    }
  } finally {
    await server?.close();
  }
}

async function serve(metrics: DemoMetrics, port: number): Promise<MetricsServer> {
  try {
    return await serveMetrics(metrics, { port });
  } catch (error) {
    throw new UsageError(`--metrics-port ${port}: cannot serve metrics there (${errorMessage(error)})`);
  }
}

async function coordinate(
  store: DurableStore,
  options: DemoOptions,
  out: NodeJS.WriteStream,
  served: { readonly metrics: DemoMetrics; readonly url: string } | undefined,
): Promise<RunExit> {
  const start = await startOrResume(store, options.requested, (run) => isFinished(store, run));
  const { run } = start;
  const say = (line: string) => out.write(`${line}\n`);
  const how = start.kind === 'resumed' ? 'resuming' : start.previous === 'finished' ? 'previous run finished; starting' : 'starting';
  say(`Liminal demo: ${how} run ${run.run} in ${describeLocation(options.location)}`);
  say(`  ${run.messages} orders over ${run.partitions} partitions, ${options.workers} worker processes, crash rate ${options.crashRate}, seed ${run.seed}${options.ordersPerSecond === undefined ? '' : `, published at ${options.ordersPerSecond} orders/s`}`);
  say(`  per order, a durable conversation: validate -> reserveStock -> charge -> notify; onCrash 'compensate': a failed order is compensated in reverse (refund, release stock)`);
  say(`  supervisors: workers ${describeSpec(workerSupervision)}; partitions ${describeSpec(partitionSupervision)}; participants ${describeSpec(participantSupervision)}`);

  const startedAt = Date.now();
  const processedAtStart = await processedCount(store, run);
  const view = progressView(out, startedAt, processedAtStart);
  const channel = new DurableChannel(store, run.names.channel, { partitions: run.partitions });
  const producing = new AbortController();

  let settle!: (outcome: 'finished' | 'interrupted' | Error) => void;
  const settled = new Promise<'finished' | 'interrupted' | Error>((resolve) => (settle = resolve));
  const pool = new WorkerPool(
    (index) => ({ location: options.location, run: run.run, index, crashRate: options.crashRate, metrics: served !== undefined }),
    options.workers,
    { note: (line) => view.note(line), failed: (error) => settle(error) },
  );
  if (served !== undefined) {
    served.metrics.attach(() => ({ stats: pool.totals(), workerRestarts: pool.restarts }), () => pool.workerMetrics());
    say(`  metrics: ${served.url}`);
  }
  const onSigint = () => settle('interrupted');
  process.on('SIGINT', onSigint);
  pool.start();
  const producer = retryOutages(() => produce(store, channel, run, producing.signal, options.ordersPerSecond === undefined ? undefined : { ordersPerSecond: options.ordersPerSecond }), producing.signal, () =>
    view.note('producer: store unavailable, reconnecting'),
  ).catch((error: Error) => settle(error));

  const snapshot = async () => {
    const totals = pool.totals();
    return {
      processed: await processedCount(store, run),
      total: run.messages,
      crashes: totals.crashesInjected,
      restarts: totals.participantRestarts + totals.partitionRestarts + pool.restarts,
    };
  };
  // The workers never decide the run is over (each sees only its partitions): the coordinator
  // watches the cursors and, once every order is processed, asks them all to leave.
  let ticking = true;
  const ticker = (async () => {
    while (ticking) {
      try {
        view.update(await snapshot());
        if (await isFinished(store, run)) settle('finished');
      } catch (error) {
        if (!isOutage(error)) throw error;
      }
      await sleep(200);
    }
  })();

  const outcome = await settled;
  process.off('SIGINT', onSigint);
  producing.abort();
  await pool.stop();
  await producer;
  ticking = false;
  await ticker;
  view.update(await snapshot());
  view.stop();

  if (outcome === 'interrupted') {
    const processed = await processedCount(store, run);
    say(`interrupted at ${processed}/${run.messages} orders; run the same command again to resume run ${run.run}`);
    return 130;
  }
  if (outcome instanceof Error) {
    say(`the run stopped: ${outcome.message}`);
    return 1;
  }
  const report = await verifyRun(store, run);
  const elapsedMs = Date.now() - startedAt;
  printSummary(out, { run, report, totals: pool.totals(), pool, elapsedMs, processedThisSession: report.completed - processedAtStart });
  const storeArg = shellQuote(cliStoreUrl(options.location));
  say(`see this run in your browser: npx -y pnpm@10 liminal console --store ${storeArg}`);
  say(`  or in the terminal: npx -y pnpm@10 -s liminal conversations --failed --store ${storeArg} (also: show <id>, channels, lag ${run.names.channel})`);
  return isClean(report) && report.pending === 0 ? 0 : 1;
}

/** Orders behind the committed cursors, summed over partitions. */
export async function processedCount(store: DurableStore, run: Run): Promise<number> {
  let sum = 0;
  for (let p = 0; p < run.partitions; p++) {
    sum += await committedOffset(store, run, p);
  }
  return sum;
}

function shellQuote(text: string): string {
  return /^[\w:./@=?-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

async function isFinished(store: DurableStore, run: Run): Promise<boolean> {
  return ((await store.readValue(run.names.published)) ?? 0) >= run.messages && (await processedCount(store, run)) >= run.messages;
}
