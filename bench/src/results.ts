/** The shape of `bench/results.json`; RESULTS.md is rendered from it. */

export interface MeasuredSide {
  readonly kind: 'measured';
  readonly label: string;
  readonly config: string;
  readonly opsPerCall: number;
  /** Median over rounds of ops/s. */
  readonly opsPerSec: number;
  readonly minOpsPerSec: number;
  readonly maxOpsPerSec: number;
  readonly roundsOpsPerSec: readonly number[];
  readonly calls: number;
}

export interface MissingSideResult {
  readonly kind: 'missing';
  readonly label: string;
  readonly reason: string;
}

export type SideResult = MeasuredSide | MissingSideResult;

export interface RatioResult {
  /** Liminal ÷ this side, median of the per-round ratios (sides ran interleaved). */
  readonly vs: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target?: number;
  readonly met?: boolean;
}

export interface RowResult {
  readonly suite: string;
  readonly id: string;
  readonly title: string;
  readonly note?: string;
  readonly sides: readonly SideResult[];
  readonly ratios: readonly RatioResult[];
  /** Targets whose sides could not be measured, with the missing side's reason. */
  readonly unmetTargets: readonly { readonly vs: string; readonly atLeast: number; readonly reason: string }[];
  readonly skipped?: string;
  /** The error a side threw while this row was measured. */
  readonly failed?: string;
}

export interface MeasurementResult {
  readonly suite: string;
  readonly id: string;
  readonly title: string;
  readonly value: number;
  readonly unit: string;
  readonly atMost?: number;
  readonly atLeast?: number;
  readonly met?: boolean;
  readonly note?: string;
}

export interface SuiteResult {
  readonly file: string;
  readonly title: string;
  readonly seconds: number;
  readonly rows: readonly RowResult[];
  readonly measurements: readonly MeasurementResult[];
  readonly log: readonly string[];
  readonly error?: string;
}

export interface Environment {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly revision: string;
  readonly postgres: string;
  readonly sqlite: string;
  readonly packages: Readonly<Record<string, string>>;
}

export interface Results {
  readonly generatedAt: string;
  readonly mode: 'quick' | 'full';
  readonly seconds: number;
  readonly environment: Environment;
  readonly suites: readonly SuiteResult[];
}
