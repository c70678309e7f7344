/**
 * The contract every file in `bench/suites/` follows. A suite default-exports
 * `defineSuite({...})`; its `run` opens what it needs, calls `bench.compare`
 * once per row, and registers cleanups with `bench.cleanup` so temp files and
 * PostgreSQL schemas disappear even when a side throws.
 */

/** One contestant of a row: Liminal, a raw driver loop, or a peer library. */
export interface Side {
  readonly label: string;
  /** Durability and engine settings this side ran with (pragmas, fsync, pool size). */
  readonly config: string;
  /** Units of work one call of `run` performs (entries appended, messages sent); default 1. */
  readonly opsPerCall?: number;
  readonly run: () => unknown;
}

/** A side that cannot be measured in this run, shown as such instead of a number. */
export interface MissingSide {
  readonly label: string;
  readonly missing: string;
}

export type SideSpec = Side | MissingSide;

/** `sides[0] / <vs>` must reach `atLeast` (both in ops/s, same run). */
export interface Target {
  readonly vs: string;
  readonly atLeast: number;
}

export interface Comparison {
  /** Stable id, e.g. `1-sqlite-append/full`; used as the key in results.json. */
  readonly id: string;
  readonly title: string;
  /** The first side is Liminal; ratios are computed against it. */
  readonly sides: readonly SideSpec[];
  readonly targets?: readonly Target[];
  /** What a reader must know to trust the row (what one op is, what differs between sides). */
  readonly note?: string;
}

/** A single measured quantity that is not a throughput (heap growth, bytes). */
export interface Measurement {
  readonly id: string;
  readonly title: string;
  readonly value: number;
  readonly unit: string;
  /** The value must stay at or below this. */
  readonly atMost?: number;
  /** The value must reach at least this (a ratio of a custom-timed row). */
  readonly atLeast?: number;
  readonly note?: string;
}

export interface BenchContext {
  /** `--quick`: fewer rounds, shorter rounds, smaller datasets. */
  readonly quick: boolean;
  /** `quick ? small : full`, for dataset sizes. */
  scale(full: number, small: number): number;
  /** Reachable PostgreSQL URL, or undefined (PostgreSQL rows are then reported as skipped). */
  readonly postgresUrl: string | undefined;
  /** A fresh private directory, removed after the run. */
  tempDir(): string;
  /** A name unique to this run, usable as a PostgreSQL schema or stream prefix. */
  uniqueName(prefix: string): string;
  /** Runs after the suite, in reverse registration order, even when it failed. */
  cleanup(fn: () => unknown): void;
  /** Measures every side of one row in interleaved rounds and records the result. */
  compare(comparison: Comparison): Promise<void>;
  /** Records a row whose sides all exist but which cannot run here (e.g. PostgreSQL down). */
  skip(comparison: Omit<Comparison, 'sides'> & { readonly sides: readonly string[] }, reason: string): void;
  record(measurement: Measurement): void;
  log(message: string): void;
}

export interface Suite {
  /** Shown as the section heading in RESULTS.md, e.g. `1. SQLite single append`. */
  readonly title: string;
  run(bench: BenchContext): Promise<void>;
}

export function defineSuite(suite: Suite): Suite {
  return suite;
}

export function isMissing(side: SideSpec): side is MissingSide {
  return 'missing' in side;
}

/** The reason shown for a Liminal side whose API has not been committed yet. */
export const pendingApi = 'pending (API not landed)';
