import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DurableStore } from '@liminal/store';
import { type PrivatePostgres, sourceNodeArgs, startPrivatePostgres } from '@liminal/testkit';
import pg from 'pg';
import { DEFAULT_LEASE_MS } from '@liminal/durability';
import { FailoverClock, Holdings, median, startExtraWorker } from './chaosDisruptions.js';
import { committedOffset, currentRun, type Run } from './manifest.js';
import { isOutage, sleep } from './outage.js';
import { seededRandom } from './prng.js';
import { openDemoStore, parseStoreUrl, type StoreLocation } from './storeUrl.js';

export type ChaosTarget =
  | { readonly kind: 'sqlite' }
  /** A PostgreSQL the harness is given: it works in a unique schema (dropped after) and never restarts the server. */
  | { readonly kind: 'postgres'; readonly url: string }
  /** A private cluster started for this run (`startPrivatePostgres`), restarted once half way, removed after. */
  | { readonly kind: 'privatePostgres' };

export interface ChaosOptions {
  readonly target: ChaosTarget;
  readonly orders: number;
  readonly kills: number;
  readonly workers: number;
  readonly partitions: number;
  readonly seed: number;
  /** Workers paused (SIGSTOP) past their lease, then resumed (SIGCONT); default 3. */
  readonly zombies?: number;
  readonly log: (line: string) => void;
}

export interface ChaosReport {
  readonly target: string;
  readonly orders: number;
  readonly crashRate: number;
  readonly kills: number;
  /** Worker deaths the demo's coordinator noticed (seen in its output): each restarted, but for one during shutdown. */
  readonly workerDeaths: number;
  readonly postgresRestarts: number;
  readonly demoExitCode: number | null;
  readonly verifyExitCode: number | null;
  readonly verifyOutput: string;
  readonly lost: number | undefined;
  readonly duplicated: number | undefined;
  /** Times a partition's committed cursor was seen lower than before (must be 0). */
  readonly cursorRegressions: number;
  /** Extra workers started mid-run outside the coordinator (they join the group) and graceful leaves of them (exit 0). */
  readonly joins: number;
  readonly leaves: number;
  readonly zombies: number;
  /** Per kill -9: ms until another worker processed an order of the victim's partitions. */
  readonly failoverMs: readonly number[];
  readonly elapsedMs: number;
}

export function chaosPassed(report: ChaosReport, wantedKills: number, wantedZombies = 0): boolean {
  return (
    report.zombies >= wantedZombies &&
    report.leaves === report.joins &&
    report.demoExitCode === 0 &&
    report.verifyExitCode === 0 &&
    report.lost === 0 &&
    report.duplicated === 0 &&
    report.cursorRegressions === 0 &&
    report.kills >= wantedKills &&
    report.workerDeaths >= report.kills
  );
}

/**
 * The shortest a chaos run may last: its orders are published over at least
 * this long (`--rate`). Each fault waits for the one before (a kill for the
 * victim's restart, any kill for a zombie's pause), so a run that a fast
 * store finishes in a few seconds would end before its last kill.
 */
const MIN_RUN_MS = 30_000;

/** Long enough past the default lease that the others declare the paused worker dead and take over. */
const ZOMBIE_PAUSE_MS = Math.round(DEFAULT_LEASE_MS * 1.75);

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const cliFile = fileURLToPath(new URL('./cli.ts', import.meta.url));
const nodeArgs = [...sourceNodeArgs, cliFile];

/**
 * Runs the demo CLI as a child process over a fresh store and fights it:
 * `kill -9` of a random worker process each time progress (read from the
 * store) crosses one of `kills` random thresholds, waiting for the
 * coordinator to restart it before the next kill; `zombies` times a worker
 * paused with SIGSTOP past its lease and resumed with SIGCONT; one extra
 * worker joining the group mid-run and leaving gracefully (SIGTERM) later;
 * optionally one PostgreSQL restart half way. Meanwhile it watches every
 * partition cursor (and times each failover), and at the end runs `verify`
 * as another process.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  if (options.target.kind !== 'privatePostgres') return runChaosOn(options, options.target, undefined);
  // Only a cluster of its own is ever restarted: the server a user or other tests share is never touched.
  const cluster = await startPrivatePostgres();
  try {
    return await runChaosOn(options, { kind: 'postgres', url: cluster.url }, cluster);
  } finally {
    await cluster.stop();
  }
}

async function runChaosOn(
  options: ChaosOptions,
  target: Exclude<ChaosTarget, { kind: 'privatePostgres' }>,
  restartable: PrivatePostgres | undefined,
): Promise<ChaosReport> {
  const random = seededRandom(options.seed, 0xc4a05);
  const crashRate = Math.round((0.02 + random() * 0.13) * 1000) / 1000;
  const rate = Math.max(1, Math.ceil((options.orders * 1000) / MIN_RUN_MS));
  const { url, cleanup } = prepareStore(target, options.seed);
  const location = parseStoreUrl(url);
  const startedAt = Date.now();
  const log = options.log;
  log(`chaos on ${options.target.kind}: ${options.orders} orders, ${options.workers} workers, ${options.partitions} partitions, crash rate ${crashRate}, published at ${rate} orders/s, ${options.kills} kills${restartable === undefined ? '' : ', one PostgreSQL restart (private cluster)'}`);
  try {
    const demo = spawnNode(
      [
        '--store', url,
        '--messages', String(options.orders),
        '--workers', String(options.workers),
        '--partitions', String(options.partitions),
        '--crash-rate', String(crashRate),
        '--seed', String(options.seed),
        '--rate', String(rate),
      ],
    );
    const workerPids = new Map<number, number>();
    let workerDeaths = 0;
    const demoOutput: string[] = [];
    const holdings = new Holdings();
    createInterface({ input: demo.stdout! }).on('line', (line) => {
      demoOutput.push(line);
      holdings.read(line);
      const started = /^worker (\d+) started \(pid (\d+)/.exec(line);
      if (started) workerPids.set(Number(started[1]), Number(started[2]));
      if (/^worker \d+ \(pid \d+\) died/.test(line)) workerDeaths += 1;
    });
    const demoErr: string[] = [];
    createInterface({ input: demo.stderr! }).on('line', (line) => demoErr.push(line));
    const demoExit = exitOf(demo);

    // Thresholds stop at 70% so the last kill still finds work left; each kill also waits for the previous restart.
    const thresholds = Array.from({ length: options.kills }, () => 0.05 + random() * 0.65).sort((a, b) => a - b);
    const pgRestart = restartable === undefined ? undefined : { at: 0.5, cluster: restartable };
    const zombieAt = Array.from({ length: options.zombies ?? 3 }, () => 0.1 + random() * 0.6).sort((a, b) => a - b);
    const failover = new FailoverClock();
    let zombies = 0;
    let paused: Promise<void> | undefined;
    let joiner: ReturnType<typeof startExtraWorker> | undefined;
    let joins = 0;
    let leaves = 0;
    let kills = 0;
    let postgresRestarts = 0;
    let cursorRegressions = 0;
    const lastCursor = new Map<number, number>();
    let exited = false;
    void demoExit.then(() => (exited = true));

    const store = await waitForStore(location, () => exited);
    try {
      const run = store && (await waitForRun(store, () => exited));
      while (!exited && store !== undefined && run !== undefined) {
        let processed: number;
        try {
          processed = await readCursors(store, run, lastCursor, () => (cursorRegressions += 1));
        } catch (error) {
          if (!isOutage(error)) throw error;
          await sleep(100);
          continue;
        }
        failover.observe(lastCursor);
        const fraction = processed / run.messages;
        if (joiner === undefined && fraction >= 0.2) {
          joiner = startExtraWorker(location, run, 100);
          joins += 1;
          log(`  worker 100 (pid ${joiner.child.pid}) joins the group at ${processed}/${run.messages} orders`);
        } else if (joiner !== undefined && joins > leaves && joiner.child.signalCode === null && fraction >= 0.5) {
          joiner.child.kill('SIGTERM');
          const code = await joiner.exited;
          if (code === 0) leaves += 1;
          log(`  worker 100 left gracefully (exit ${String(code)}) at ${processed}/${run.messages} orders`);
        }
        if (pgRestart !== undefined && postgresRestarts === 0 && fraction >= pgRestart.at) {
          log(`  restarting PostgreSQL at ${processed}/${run.messages} orders`);
          await pgRestart.cluster.restart();
          postgresRestarts += 1;
        }
        const zombieThreshold = zombieAt[zombies];
        if (paused === undefined && zombieThreshold !== undefined && fraction >= zombieThreshold) {
          const alive = [...workerPids].filter(([, pid]) => isAlive(pid));
          const victim = alive[Math.floor(random() * alive.length)];
          if (victim !== undefined) {
            const [index, pid] = victim;
            process.kill(pid, 'SIGSTOP');
            zombies += 1;
            log(`  SIGSTOP worker ${index} (pid ${pid}) at ${processed}/${run.messages} orders, for ${ZOMBIE_PAUSE_MS} ms (lease ${DEFAULT_LEASE_MS} ms)`);
            paused = sleep(ZOMBIE_PAUSE_MS).then(() => {
              if (isAlive(pid)) process.kill(pid, 'SIGCONT');
              log(`  SIGCONT worker ${index} (pid ${pid}): a zombie, its commits are fenced`);
              paused = undefined;
            });
          }
        }
        const threshold = thresholds[kills];
        // One kill at a time: the next waits until the coordinator has restarted the previous victim.
        if (paused === undefined && threshold !== undefined && fraction >= threshold && workerDeaths >= kills) {
          // Only workers still running: one that drained its partitions and exited cannot be a victim.
          const alive = [...workerPids].filter(([, pid]) => isAlive(pid));
          const victim = alive[Math.floor(random() * alive.length)];
          if (victim !== undefined) {
            const [index, pid] = victim;
            process.kill(pid, 'SIGKILL');
            failover.killed(holdings.of(index));
            kills += 1;
            log(`  kill -9 worker ${index} (pid ${pid}) at ${processed}/${run.messages} orders`);
          }
        }
        await sleep(40);
      }
    } finally {
      await paused;
      if (joiner !== undefined && joiner.child.exitCode === null && joiner.child.signalCode === null) {
        joiner.child.kill('SIGTERM');
        if ((await joiner.exited) === 0) leaves += 1;
      }
      await store?.close();
    }
    const demoExitCode = await demoExit;
    const summary = (label: string) => new RegExp(`│ ${label}\\s*│ ([^│]*?)\\s*│`).exec(demoOutput.join('\n'))?.[1] ?? '?';
    log(`  demo exited with code ${demoExitCode}; ${workerDeaths} worker deaths; crashes injected ${summary('crashes injected')}; restarts ${summary('restarts')}`);
    if (demoExitCode !== 0) for (const line of [...demoOutput.slice(-30), ...demoErr.slice(-20)]) log(`  | ${line}`);

    const verify = spawnNode(['verify', '--store', url]);
    let verifyOutput = '';
    verify.stdout!.on('data', (chunk: Buffer) => (verifyOutput += chunk.toString()));
    verify.stderr!.on('data', (chunk: Buffer) => (verifyOutput += chunk.toString()));
    const verifyExitCode = await exitOf(verify);
    const counts = /lost: (\d+), duplicated: (\d+)/.exec(verifyOutput);
    log('  verify:');
    for (const line of verifyOutput.trim().split('\n')) log(`    ${line}`);
    const report: ChaosReport = {
      target: options.target.kind,
      orders: options.orders,
      crashRate,
      kills,
      workerDeaths,
      postgresRestarts,
      demoExitCode,
      verifyExitCode,
      verifyOutput,
      lost: counts ? Number(counts[1]) : undefined,
      duplicated: counts ? Number(counts[2]) : undefined,
      cursorRegressions,
      joins,
      leaves,
      zombies,
      failoverMs: failover.times.map(Math.round),
      elapsedMs: Date.now() - startedAt,
    };
    log(
      `  => ${chaosPassed(report, options.kills, options.zombies ?? 3) ? 'PASS' : 'FAIL'}: kills ${report.kills} (failover ${report.failoverMs.join(', ') || '-'} ms, median ${String(median(report.failoverMs) ?? '-')}), zombies ${report.zombies}, joins ${report.joins}, graceful leaves ${report.leaves}, worker deaths ${report.workerDeaths}, PostgreSQL restarts ${report.postgresRestarts}, ` +
        `lost ${String(report.lost)}, duplicated ${String(report.duplicated)}, cursor regressions ${report.cursorRegressions}, ${(report.elapsedMs / 1000).toFixed(1)} s`,
    );
    return report;
  } finally {
    await cleanup();
  }
}

function spawnNode(args: readonly string[]): ChildProcess {
  // A non-TTY stdout makes the demo print plain progress lines, which is what the harness parses.
  return spawn(process.execPath, [...nodeArgs, ...args], { cwd: demoDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INIT_CWD: demoDir } });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sums the committed cursors and counts any partition whose cursor went down since the last look. */
async function readCursors(store: DurableStore, run: Run, last: Map<number, number>, regression: () => void): Promise<number> {
  let sum = 0;
  for (let p = 0; p < run.partitions; p++) {
    const offset = await committedOffset(store, run, p);
    if (offset < (last.get(p) ?? 0)) regression();
    last.set(p, Math.max(offset, last.get(p) ?? 0));
    sum += offset;
  }
  return sum;
}

async function waitForStore(location: StoreLocation, gaveUp: () => boolean): Promise<DurableStore | undefined> {
  while (!gaveUp()) {
    try {
      return await openDemoStore(location, 'existing');
    } catch {
      await sleep(100);
    }
  }
  return undefined;
}

async function waitForRun(store: DurableStore, gaveUp: () => boolean): Promise<Run | undefined> {
  while (!gaveUp()) {
    const run = await currentRun(store).catch(() => undefined);
    if (run !== undefined) return run;
    await sleep(100);
  }
  return undefined;
}

function prepareStore(target: Exclude<ChaosTarget, { kind: 'privatePostgres' }>, seed: number): { url: string; cleanup: () => Promise<void> } {
  if (target.kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'liminal-chaos-'));
    return { url: `sqlite:${join(dir, 'chaos.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `liminal_chaos_${process.pid}_${Date.now().toString(36)}_${seed}`;
  const url = new URL(target.url);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: 5_000 });
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
