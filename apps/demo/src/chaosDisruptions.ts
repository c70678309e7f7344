import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Run } from './manifest.js';
import type { StoreLocation } from './storeUrl.js';
import type { WorkerConfig } from './workerMain.js';
import { sourceNodeArgs } from '@liminal/testkit';

const workerFile = fileURLToPath(new URL('./workerMain.ts', import.meta.url));

/**
 * A worker process the chaos harness starts itself, outside the demo's
 * coordinator: it joins the run's worker group mid-run like any other
 * worker (nobody assigns it anything) and later leaves gracefully on SIGTERM.
 */
export function startExtraWorker(location: StoreLocation, run: Run, index: number): { readonly child: ChildProcess; readonly exited: Promise<number | null> } {
  const config: WorkerConfig = { location, run: run.run, index, crashRate: 0, metrics: false };
  const child = spawn(process.execPath, [...sourceNodeArgs, workerFile, JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** Partitions each worker index last said it holds (`[worker i] holds partitions …` in the demo's output). */
export class Holdings {
  readonly #byWorker = new Map<number, number[]>();

  read(line: string): void {
    const match = /^\[worker (\d+)\] holds partitions (.*)$/.exec(line);
    if (match === null) return;
    const partitions = match[2] === 'none' ? [] : (match[2] ?? '').split(', ').map(Number);
    this.#byWorker.set(Number(match[1]), partitions);
  }

  of(index: number): readonly number[] {
    return this.#byWorker.get(index) ?? [];
  }
}

/**
 * Failover after a `kill -9`: from the kill to the first advance of a
 * cursor of the victim's partitions (by whoever took them over), measured
 * from the cursors as first read after the kill.
 */
export class FailoverClock {
  #pending: { readonly at: number; readonly partitions: readonly number[]; base?: Map<number, number> } | undefined;
  readonly times: number[] = [];

  killed(partitions: readonly number[]): void {
    this.#pending = partitions.length === 0 ? undefined : { at: performance.now(), partitions };
  }

  get waiting(): boolean {
    return this.#pending !== undefined;
  }

  /** Called with every fresh read of the cursors. */
  observe(cursors: ReadonlyMap<number, number>): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    if (pending.base === undefined) {
      pending.base = new Map(pending.partitions.map((p) => [p, cursors.get(p) ?? 0]));
      return;
    }
    const base = pending.base;
    if (pending.partitions.some((p) => (cursors.get(p) ?? 0) > (base.get(p) ?? 0))) {
      this.times.push(performance.now() - pending.at);
      this.#pending = undefined;
    }
  }

  /** A kill whose partitions were drained before anyone took them over has no failover to measure. */
  abandon(): void {
    this.#pending = undefined;
  }
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
