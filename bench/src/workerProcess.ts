/**
 * The parent's side of a suite-13 worker child (`src/children/*.ts`, which
 * report through `WorkerReport`): spawns it, reads its JSON lines, waits for
 * what it reports, and kills it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { benchDir } from './environment.js';
import { sourceNodeArgs } from '@liminal/testkit';

export interface WorkerEvent {
  readonly ev: 'ready' | 'held' | 'count' | 'first' | 'latencies';
  readonly partitions?: number[];
  readonly partition?: number;
  readonly n?: number;
  readonly lastAt?: number;
  readonly at?: number;
  readonly values?: number[];
  readonly queries?: number;
}

/** Generous: a loaded two-core machine can take seconds to start a tsx child. */
const WAIT_MS = 120_000;

export class WorkerProcess {
  readonly #child: ChildProcess;
  readonly events: WorkerEvent[] = [];
  readonly exited: Promise<void>;
  #stderr = '';
  #changed: () => void = () => undefined;

  constructor(script: string, args: readonly string[]) {
    this.#child = spawn(process.execPath, [...sourceNodeArgs, join(benchDir, 'src', 'children', script), ...args], {
      cwd: benchDir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as WorkerEvent);
      this.#changed();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.#child.on('exit', () => resolve()));
    void this.exited.then(() => this.#changed());
  }

  /** Messages handled so far (its latest count report) and when the latest one finished. */
  get count(): { readonly n: number; readonly lastAt: number } {
    const last = this.events.findLast((event) => event.ev === 'count');
    return { n: last?.n ?? 0, lastAt: last?.lastAt ?? 0 };
  }

  /** The partitions it holds, from its latest `held` report. */
  get held(): readonly number[] {
    return this.events.findLast((event) => event.ev === 'held')?.partitions ?? [];
  }

  /** Resolves once `condition` holds on what this worker reported (checked on every report). */
  async until(condition: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + WAIT_MS;
    while (!condition()) {
      if (this.gone) throw new Error(`worker exited waiting for ${what}: ${this.#stderr.slice(-2_000)}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}: ${this.#stderr.slice(-2_000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.#changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  get gone(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  ready(): Promise<void> {
    return this.until(() => this.events.some((event) => event.ev === 'ready'), 'ready');
  }

  go(): void {
    this.#child.stdin!.write('go\n');
  }

  /** Publish → handler-start delays (ms) of the messages since the last call. */
  async latencies(): Promise<number[]> {
    return (await this.#report()).values ?? [];
  }

  /** Statements the worker sent so far (a Liminal member counts them at the driver). */
  async queries(): Promise<number> {
    return (await this.#report()).queries ?? Number.NaN;
  }

  async #report(): Promise<WorkerEvent> {
    const before = this.events.length;
    this.#child.stdin!.write('report\n');
    await this.until(() => this.events.slice(before).some((event) => event.ev === 'latencies'), 'its report');
    return this.events.slice(before).find((event) => event.ev === 'latencies')!;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal);
    return this.exited;
  }
}

/** Waits until `condition` holds over several workers' reports. */
export async function untilAll(workers: readonly WorkerProcess[], condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    const gone = workers.find((worker) => worker.gone);
    if (gone) await gone.until(() => false, what); // throws with its stderr
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
