import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSupervisor } from '@liminal/actors';
import { LiminalError } from '@liminal/store';
import { createActor, fromPromise, type Actor } from 'xstate';
import type { WorkerMetrics } from './metrics.js';
import { addStats, emptyStats, type CoordinatorMessage, type WorkerMessage, type WorkerStats } from './stats.js';
import { workerSupervision } from './supervision.js';
import type { WorkerConfig } from './workerMain.js';

/** One worker index and every process that has held it. */
export interface WorkerSlot {
  readonly index: number;
  pid: number | undefined;
  starts: number;
  done: boolean;
  /** The last totals each process reported (a killed process keeps its last report). */
  readonly reports: WorkerStats[];
  /** The last conversation metrics each process reported (with `--metrics-port`). */
  readonly metrics: WorkerMetrics[];
}

export interface WorkerEvents {
  note(line: string): void;
  /** The pool gave up: workers died more often than `workerSupervision` allows (a SupervisorEscalationError). */
  failed(error: Error): void;
}

/** A worker process exited before it was asked to stop (e.g. `kill -9`): its child actor's crash. */
export class WorkerDiedError extends LiminalError {
  readonly code = 'WORKER_DIED';

  constructor(
    readonly index: number,
    readonly pid: number,
    readonly exit: string,
  ) {
    super(`worker ${index} (pid ${pid}) died (${exit})`);
  }
}

const workerFile = fileURLToPath(new URL('./workerMain.ts', import.meta.url));
// Workers run the TypeScript sources like the CLI does; resolving tsx here means the cwd does not matter.
const execArgv = ['--conditions=@liminal/source', '--import', import.meta.resolve('tsx')];

/**
 * The coordinator's own supervisor: keeps N worker processes running, each
 * the child actor of a one-for-one `createSupervisor` that restarts a worker
 * dying before it was asked to stop (e.g. after `kill -9`), and gives up
 * (`events.failed`) past `workerSupervision`'s intensity. It assigns nothing:
 * each process joins the run's worker group and the group spreads the
 * partitions over whoever is alive.
 */
export class WorkerPool {
  readonly slots: WorkerSlot[];
  readonly #children = new Map<number, ChildProcess>();
  #supervisor: Actor<ReturnType<typeof createSupervisor>> | undefined;
  #stopping = false;
  /** The supervisor escalated: exits after that are no longer worth a note. */
  #failed = false;
  restarts = 0;

  constructor(
    readonly configFor: (index: number) => WorkerConfig,
    workers: number,
    readonly events: WorkerEvents,
  ) {
    this.slots = Array.from({ length: workers }, (_, index) => ({
      index,
      pid: undefined,
      starts: 0,
      done: false,
      reports: [],
      metrics: [],
    }));
  }

  start(): void {
    const supervisor = createActor(
      createSupervisor({
        ...workerSupervision,
        // Transient: a worker that exits after being asked to stop is not restarted.
        children: this.slots.map((slot) => ({ id: `worker-${slot.index}`, logic: this.#worker(slot), restart: 'transient' as const })),
      }),
      { id: 'coordinator' },
    );
    supervisor.on('supervisor.restart', () => void (this.restarts += 1));
    supervisor.subscribe({
      error: (error) => {
        this.#failed = true;
        this.events.failed(error as Error);
      },
    });
    this.#supervisor = supervisor;
    supervisor.start();
  }

  totals(): WorkerStats {
    const total = emptyStats();
    for (const slot of this.slots) addStats(total, this.totalsOf(slot));
    return total;
  }

  /** Every process's last metrics report, killed ones included. */
  workerMetrics(): WorkerMetrics[] {
    return this.slots.flatMap((slot) => slot.metrics);
  }

  totalsOf(slot: WorkerSlot): WorkerStats {
    const total = emptyStats();
    for (const report of slot.reports) addStats(total, report);
    return total;
  }

  /** Asks every worker to stop at its next message boundary and leave the group; resolves when all have exited. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          // A worker that got Ctrl-C itself may close its channel between the
          // `connected` check and the write; the callback takes that EPIPE
          // (instead of an unhandled 'error' event), and the worker exits anyway.
          if (child.connected) child.send({ type: 'stop' } satisfies CoordinatorMessage, () => undefined);
          else child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    this.#supervisor?.stop();
  }

  /** One worker slot as an actor: resolves when its process exits after a stop, fails when it dies before. */
  #worker(slot: WorkerSlot) {
    return fromPromise<void>(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = this.#spawn(slot);
          const pid = child.pid ?? -1;
          child.on('exit', (code, signal) => {
            this.#children.delete(pid);
            if (this.#failed) return resolve();
            const exit = signal ?? `exit code ${code}`;
            if (this.#stopping) {
              // A worker asked to leave exits 0; any other exit (a kill -9 landing
              // during shutdown) is still a death an operator should see, but
              // restarting it would only start a process to stop it again.
              if (code !== 0) this.events.note(`worker ${slot.index} (pid ${pid}) died (${exit}) while the pool was stopping; not restarted`);
              return resolve();
            }
            this.events.note(`worker ${slot.index} (pid ${pid}) died (${exit}); restarting it`);
            reject(new WorkerDiedError(slot.index, pid, exit));
          });
        }),
    );
  }

  #spawn(slot: WorkerSlot): ChildProcess {
    const child = fork(workerFile, [JSON.stringify(this.configFor(slot.index))], {
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const pid = child.pid ?? -1;
    this.#children.set(pid, child);
    slot.pid = pid;
    slot.starts += 1;
    const report = emptyStats();
    slot.reports.push(report);
    const incarnation = slot.metrics.length;
    slot.metrics.push([]);
    this.events.note(`worker ${slot.index} started (pid ${pid}); it joins the worker group`);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => this.events.note(line));
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'stats') Object.assign(report, message.stats);
      else if (message.type === 'metrics') slot.metrics[incarnation] = message.metrics;
      else if (message.type === 'done') slot.done = true;
    });
    return child;
  }
}
