import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchDbos } from '@liminal/bench-peer-dbos';
import { graphileProducer, graphileTask, graphileWorkerVersion } from '@liminal/bench-peer-graphile-worker';
import { pgBossQueue, pgBossVersion, startPgBoss } from '@liminal/bench-peer-pg-boss';
import { DurableChannel } from '@liminal/durability';
import { PostgresStore } from '@liminal/store';
import pg from 'pg';
import { epochNow, sentAtPayload } from '../src/children/report.js';
import { benchDir } from '../src/environment.js';
import { dropSchemaOnCleanup, scratchDatabase } from '../src/postgres.js';
import { defineSuite, type BenchContext } from '../src/suite.js';
import { quantile, untilAll, WorkerProcess } from '../src/workerProcess.js';

const PARTITIONS = 8;
const encoder = new TextEncoder();

/** One contestant: how to start its worker processes and how to hand it messages. */
interface Queue {
  readonly label: string;
  /** `count` worker processes sharing `PARTITIONS`-way concurrency, set up and ready for `go`. */
  workers(count: number): Promise<WorkerProcess[]>;
  /** One message stamped with its send time, sent now. */
  send(): Promise<unknown>;
  /** `n` messages, as fast as the queue takes them (before the workers start). */
  sendMany(n: number): Promise<void>;
}

interface LiminalQueue extends Queue {
  /** One more member process, joined (the group may still be rebalancing). */
  join(): Promise<WorkerProcess>;
}

function liminalQueue(bench: BenchContext, url: string): LiminalQueue {
  const schema = bench.uniqueName('bench_group');
  dropSchemaOnCleanup(bench, url, schema);
  const store = new PostgresStore(url, { schema });
  bench.cleanup(() => store.close());
  const channel = new DurableChannel(store, 'bench', { partitions: PARTITIONS });
  // Creates the schema before members race to.
  const created = store.streamLength('warm-up');
  let key = 0;
  const send = () => channel.publish(encoder.encode(JSON.stringify(sentAtPayload())), { key: `k${key++}` });
  const join = async () => {
    await created;
    const worker = new WorkerProcess('groupMember.ts', [url, schema, String(PARTITIONS)]);
    bench.cleanup(() => worker.kill());
    await worker.ready();
    return worker;
  };
  return {
    label: 'Liminal channel.join',
    join,
    async workers(count) {
      const workers: WorkerProcess[] = [];
      for (let i = 0; i < count; i++) workers.push(await join());
      await balanced(workers);
      return workers;
    },
    send,
    async sendMany(n) {
      for (let sent = 0; sent < n; sent += 256) await Promise.all(Array.from({ length: Math.min(256, n - sent) }, send));
    },
  };
}

/** Every partition held, by one member each, fairly (counts differ by at most one). */
async function balanced(workers: readonly WorkerProcess[]): Promise<void> {
  await untilAll(
    workers,
    () => {
      const counts = workers.map((worker) => worker.held.length);
      return counts.reduce((a, b) => a + b, 0) === PARTITIONS && Math.max(...counts) - Math.min(...counts) <= 1;
    },
    'a balanced group',
  );
}

async function graphileQueue(bench: BenchContext, url: string): Promise<Queue> {
  const schema = bench.uniqueName('bench_graphile');
  dropSchemaOnCleanup(bench, url, schema);
  const utils = await graphileProducer(url, schema);
  bench.cleanup(() => utils.release());
  return {
    label: `Graphile Worker ${graphileWorkerVersion}`,
    workers: (count) => spawnReady(bench, count, 'graphileWorker.ts', [url, schema, String(PARTITIONS / count)]),
    send: () => utils.addJob(graphileTask, sentAtPayload()),
    async sendMany(n) {
      for (let sent = 0; sent < n; sent += 1_000) {
        await utils.addJobs(Array.from({ length: Math.min(1_000, n - sent) }, () => ({ identifier: graphileTask, payload: sentAtPayload() })));
      }
    },
  };
}

async function pgBossQueueOf(bench: BenchContext, url: string): Promise<Queue> {
  const schema = bench.uniqueName('bench_pgboss');
  dropSchemaOnCleanup(bench, url, schema);
  const boss = await startPgBoss(url, schema);
  bench.cleanup(() => boss.stop({ graceful: false }));
  return {
    label: `pg-boss ${pgBossVersion}`,
    workers: (count) => spawnReady(bench, count, 'pgBossWorker.ts', [url, schema, String(PARTITIONS / count)]),
    send: () => boss.send(pgBossQueue, sentAtPayload()),
    async sendMany(n) {
      for (let sent = 0; sent < n; sent += 1_000) {
        await boss.insert(pgBossQueue, Array.from({ length: Math.min(1_000, n - sent) }, () => ({ data: sentAtPayload() })));
      }
    },
  };
}

async function spawnReady(bench: BenchContext, count: number, script: string, args: readonly string[]): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, () => new WorkerProcess(script, args));
  for (const worker of workers) bench.cleanup(() => worker.kill());
  await Promise.all(workers.map((worker) => worker.ready()));
  return workers;
}

/** Publish → handler-start delays of `count` messages sent `spacingMs` apart to one worker process. */
async function latencies(queue: Queue, count: number, spacingMs: number): Promise<number[]> {
  const [worker] = await queue.workers(1);
  worker!.go();
  // Timed once the worker has handled a few messages: its consumers are up and listening.
  for (let i = 0; i < 5; i++) await queue.send();
  await worker!.until(() => worker!.count.n >= 5, 'warm-up messages');
  await worker!.latencies();
  await sleep(200);
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * spacingMs - performance.now();
    if (wait > 0) await sleep(wait);
    sends.push(queue.send());
  }
  await Promise.all(sends);
  await worker!.until(() => worker!.count.n >= count + 5, `${count} messages`);
  const values = await worker!.latencies();
  await worker!.kill();
  return values;
}

/** Messages/s of 2 worker processes draining `count` messages queued before they start. */
async function throughput(queue: Queue, count: number): Promise<number> {
  const workers = await queue.workers(2);
  await queue.sendMany(count);
  const start = epochNow();
  for (const worker of workers) worker.go();
  await untilAll(workers, () => workers.reduce((sum, worker) => sum + worker.count.n, 0) >= count, `${count} messages`);
  const end = Math.max(...workers.map((worker) => worker.count.lastAt));
  await Promise.all(workers.map((worker) => worker.kill()));
  return (count * 1000) / (end - start);
}

/**
 * Kills a member of a 2-member group (kill -9) while messages flow to every
 * partition; the time until the survivor handles its first message on one
 * of the dead member's partitions. A new member then joins for the next kill.
 */
async function failovers(bench: BenchContext, url: string, kills: number): Promise<number[]> {
  const queue = liminalQueue(bench, url);
  let workers = await queue.workers(2);
  for (const worker of workers) worker.go();
  const flowing = new AbortController();
  const flow = (async () => {
    while (!flowing.signal.aborted) {
      await queue.send();
      await sleep(10);
    }
  })();
  const times: number[] = [];
  try {
    for (let kill = 0; kill < kills; kill++) {
      const [victim, survivor] = workers as [WorkerProcess, WorkerProcess];
      const orphaned = new Set(victim.held);
      const seen = survivor.events.length;
      const killedAt = epochNow();
      await victim.kill('SIGKILL');
      const first = () => survivor.events.slice(seen).find((event) => event.ev === 'first' && orphaned.has(event.partition!));
      await survivor.until(() => first() !== undefined, 'a taken-over partition');
      times.push(first()!.at! - killedAt);
      const newcomer = await queue.join();
      newcomer.go();
      workers = [survivor, newcomer];
      await balanced(workers);
    }
  } finally {
    flowing.abort();
    await flow;
  }
  return times;
}

/**
 * What 2 idle members (running, caught up) cost per member and second:
 * statements counted at the driver in each member, and transactions from
 * `pg_stat_database` of a scratch database only they use.
 */
async function idleCost(bench: BenchContext, url: string, windowMs: number): Promise<{ queries: number; transactions: number }> {
  const scratch = await scratchDatabase(bench, url, 'bench_idle');
  const queue = liminalQueue(bench, scratch);
  const workers = await queue.workers(2);
  for (const worker of workers) worker.go();
  await sleep(3_000); // past joining and the first reads of every partition
  const database = new URL(scratch).pathname.slice(1);
  const stats = new pg.Client({ connectionString: url }); // connected to the main database: not counted
  await stats.connect();
  try {
    const transactions = async () => {
      const { rows } = await stats.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [database]);
      return Number(rows[0]?.n ?? 0);
    };
    const queries = async () => (await Promise.all(workers.map((worker) => worker.queries()))).reduce((a, b) => a + b, 0);
    const before = { queries: await queries(), transactions: await transactions() };
    const startedAt = performance.now();
    await sleep(windowMs);
    const after = { queries: await queries(), transactions: await transactions() };
    const perMemberSecond = 1000 / (performance.now() - startedAt) / workers.length;
    return { queries: (after.queries - before.queries) * perMemberSecond, transactions: (after.transactions - before.transactions) * perMemberSecond };
  } finally {
    await stats.end();
    await Promise.all(workers.map((worker) => worker.kill()));
  }
}

/**
 * Orders/s of `pnpm demo` over PostgreSQL (2 worker processes, 4 partitions,
 * no injected crashes), from its progress lines: from the first processed
 * order to the last, so process start-up and the final verify are left out.
 */
async function demoOrdersPerSecond(bench: BenchContext, url: string, orders: number): Promise<number> {
  const schema = bench.uniqueName('bench_demo');
  dropSchemaOnCleanup(bench, url, schema);
  const store = new URL(url);
  store.searchParams.set('schema', schema);
  const demoDir = join(benchDir, '..', 'apps', 'demo');
  const child = spawn(
    process.execPath,
    ['--conditions=@liminal/source', '--import', 'tsx', join(demoDir, 'src', 'cli.ts'), '--store', store.toString(), '--messages', String(orders), '--crash-rate', '0', '--reset'],
    { cwd: demoDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let first: { processed: number; at: number } | undefined;
  let last: { processed: number; at: number } | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const progress = /progress (\d+)\/(\d+)/.exec(line);
    if (progress === null) continue;
    const point = { processed: Number(progress[1]), at: performance.now() };
    // The line before the first processed order marks the start; a small
    // (quick) run may print its first processed count only once, at the end.
    if (first === undefined || (point.processed === 0 && first.processed === 0)) first = point;
    if (last === undefined || point.processed > last.processed) last = point;
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
  if (code !== 0 || first === undefined || last === undefined || last.processed < orders) throw new Error(`demo failed (exit ${code}): ${stderr.slice(-2_000)}`);
  if (last.processed === first.processed) throw new Error(`demo printed no progress between its first and last line (${orders} orders): nothing to time`);
  return ((last.processed - first.processed) * 1000) / (last.at - first.at);
}

/** Workflows/s of DBOS running 4-step workflows, `concurrency` at a time (the demo's 4 partitions). */
async function dbosWorkflowsPerSecond(bench: BenchContext, url: string, workflows: number, concurrency: number): Promise<number> {
  const dbos = await launchDbos(await scratchDatabase(bench, url, 'bench_dbos'), 10);
  bench.cleanup(() => dbos.shutdown());
  const output = JSON.stringify({ ok: true, step: 'done' });
  await dbos.runWorkflow(4, output);
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < workflows) await dbos.runWorkflow(4, output);
    }),
  );
  return (workflows * 1000) / (performance.now() - startedAt);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

export default defineSuite({
  title: '13. Worker groups over PostgreSQL vs Graphile Worker, pg-boss, DBOS',
  async run(bench) {
    const url = bench.postgresUrl;
    if (!url) {
      bench.log('PostgreSQL unreachable: suite 13 skipped');
      return;
    }
    // 1. Latency: 500 messages 5 ms apart to one worker process.
    const count = bench.scale(500, 100);
    const liminal = liminalQueue(bench, url);
    const graphile = await graphileQueue(bench, url);
    const liminalLatency = await latencies(liminal, count, 5);
    const graphileLatency = await latencies(graphile, count, 5);
    const latencyNote =
      `${count} messages sent 5 ms apart by the bench process to one worker process (a group member holding all ${PARTITIONS} partitions; ` +
      `a Graphile Worker pool of concurrency ${PARTITIONS}); the delay from just before publish/add_job to the start of the handler, ` +
      'both processes reading the same clock. Both wake on LISTEN/NOTIFY.';
    for (const [label, values] of [
      ['Liminal', liminalLatency],
      [`Graphile Worker ${graphileWorkerVersion}`, graphileLatency],
    ] as const) {
      bench.log(`latency ${label}: p50 ${ms(quantile(values, 0.5))}, p99 ${ms(quantile(values, 0.99))}, max ${ms(quantile(values, 1))}`);
    }
    bench.record({ id: '13-latency/liminal-p50', title: 'Publish → handler p50, Liminal group member', value: quantile(liminalLatency, 0.5), unit: 'ms', note: latencyNote });
    bench.record({ id: '13-latency/liminal-p99', title: 'Publish → handler p99, Liminal group member', value: quantile(liminalLatency, 0.99), unit: 'ms', atMost: 20 });
    bench.record({ id: '13-latency/graphile-p50', title: `add_job → task start p50, Graphile Worker ${graphileWorkerVersion}`, value: quantile(graphileLatency, 0.5), unit: 'ms' });
    bench.record({ id: '13-latency/graphile-p99', title: `add_job → task start p99, Graphile Worker ${graphileWorkerVersion}`, value: quantile(graphileLatency, 0.99), unit: 'ms' });
    bench.record({
      id: '13-latency/p50-ratio',
      title: 'Latency p50, Liminal ÷ Graphile Worker (lower is better)',
      value: quantile(liminalLatency, 0.5) / quantile(graphileLatency, 0.5),
      unit: '×',
      atMost: 1,
    });

    // 2. Throughput: 2 worker processes with 8-way concurrency in all, draining a queue filled before they start.
    const messages = bench.scale(10_000, 500);
    const pgBoss = await pgBossQueueOf(bench, url);
    const rates = new Map<string, number>();
    for (const queue of [liminal, graphile, pgBoss]) {
      const rate = await throughput(queue, messages);
      rates.set(queue.label, rate);
      bench.log(`throughput ${queue.label}: ${Math.round(rate)} messages/s`);
      bench.record({
        id: `13-throughput/${queue.label.split(' ')[0]!.toLowerCase()}`,
        title: `${messages} messages through 2 processes, ${queue.label}`,
        value: rate,
        unit: 'messages/s',
        ...(queue === liminal
          ? {
              note:
                `Queued before the workers start; timed from 'go' to the last handler's end. Liminal: a group of 2 members on ${PARTITIONS} partitions ` +
                `(4 each, one message at a time per partition, the envelopes of a read committed up to messagesPerCommit (64) at a time: one commit carrying their receipts, the cursor, the lease check and the next batch's claims); ` +
                `Graphile Worker: concurrency ${PARTITIONS / 2} per process; pg-boss: localConcurrency ${PARTITIONS / 2} per process, fetching batches of 64 (burstWhenBatchFull; with batchSize 1 a worker waits its polling interval after every job). Trivial handler.`,
            }
          : {}),
      });
    }
    for (const peer of [graphile, pgBoss]) {
      bench.record({
        id: `13-throughput/ratio-${peer.label.split(' ')[0]!.toLowerCase()}`,
        title: `Throughput, Liminal ÷ ${peer.label}`,
        value: rates.get(liminal.label)! / rates.get(peer.label)!,
        unit: '×',
        atLeast: 1,
      });
    }

    // 3. Failover after kill -9.
    const failoverTimes = await failovers(bench, url, bench.scale(10, 1));
    bench.log(`failover: ${failoverTimes.map((value) => Math.round(value)).join(', ')} ms`);
    bench.record({
      id: '13-failover/median',
      title: `Failover after kill -9, median of ${failoverTimes.length} (default leaseMs 2000, heartbeatMs 1100)`,
      value: quantile(failoverTimes, 0.5),
      unit: 'ms',
      atMost: 3_000,
      note: `From kill -9 of one of 2 members to the survivor's first handled message on a partition the dead one held; messages published every 10 ms meanwhile. Each: ${failoverTimes.map((value) => Math.round(value)).join(', ')} ms.`,
    });

    // 4. Idle cost.
    const idle = await idleCost(bench, url, bench.scale(20_000, 4_000));
    bench.log(`idle: ${idle.queries.toFixed(2)} statements/s, ${idle.transactions.toFixed(2)} transactions/s per member`);
    bench.record({
      id: '13-idle/queries-per-second',
      title: `Idle statements/s of one member (2 members, ${PARTITIONS / 2} partitions each, defaults)`,
      value: idle.queries,
      unit: 'queries/s',
      atMost: 2,
      note:
        "Counted in each member process at pg's Client#query (its pool and its LISTEN connection), after 3 s of idling, halved for 2 members; " +
        'pg_stat_statements is not loaded on this server.',
    });
    bench.record({
      id: '13-idle/transactions-per-second',
      title: 'Idle transactions/s of one member, from pg_stat_database',
      value: idle.transactions,
      unit: 'transactions/s',
      note:
        'xact_commit + xact_rollback of a scratch database only the 2 members use, halved. It runs above the statements the members send: ' +
        'the difference is server-side work in their backends, not queries (see ANALYSIS.md).',
    });

    // 5. End to end: the demo vs DBOS workflows of 4 steps.
    const orders = bench.scale(300, 40);
    const demo = await demoOrdersPerSecond(bench, url, orders);
    const dbos = await dbosWorkflowsPerSecond(bench, url, orders, 4);
    bench.log(`end to end: demo ${demo.toFixed(1)} orders/s, DBOS ${dbos.toFixed(1)} workflows/s`);
    bench.record({
      id: '13-e2e/demo',
      title: `pnpm demo over PostgreSQL, ${orders} orders (4 durable steps each), 2 workers, 4 partitions, no crashes`,
      value: demo,
      unit: 'orders/s',
      note: 'Each order is a durable conversation of 4 participants, each step a runOnce ledger write; rate from the demo’s progress lines, first processed order to the last.',
    });
    bench.record({ id: '13-e2e/dbos', title: `DBOS workflow of 4 steps, ${orders} workflows, 4 at a time`, value: dbos, unit: 'workflows/s' });
    bench.record({ id: '13-e2e/ratio', title: 'End to end, demo orders/s ÷ DBOS workflows/s', value: demo / dbos, unit: '×', atLeast: 2 });
  },
});
