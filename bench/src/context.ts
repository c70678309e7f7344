import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@liminal/store';
import { fullPlan, measureSides, median, quickPlan } from './measure.js';
import { times } from './times.js';
import type { MeasurementResult, RatioResult, RowResult, SideResult } from './results.js';
import { isMissing, type BenchContext, type Comparison, type Measurement, type Side } from './suite.js';

const runId = `${Date.now().toString(36)}_${process.pid}`;

/** Builds the `bench` object a suite receives and collects what it records. */
export class SuiteRun implements BenchContext {
  readonly rows: RowResult[] = [];
  readonly measurements: MeasurementResult[] = [];
  readonly logLines: string[] = [];
  private readonly cleanups: (() => unknown)[] = [];
  private counter = 0;
  /** Rows that threw while measuring. */
  failures = 0;

  constructor(
    private readonly suiteTitle: string,
    readonly quick: boolean,
    readonly postgresUrl: string | undefined,
  ) {}

  scale(full: number, small: number): number {
    return this.quick ? small : full;
  }

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'liminal-bench-'));
    this.cleanup(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  uniqueName(prefix: string): string {
    return `${prefix}_${runId}_${this.counter++}`;
  }

  cleanup(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async runCleanups(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        this.log(`cleanup failed: ${String(error)}`);
      }
    }
  }

  log(message: string): void {
    this.logLines.push(message);
    process.stderr.write(`  ${message}\n`);
  }

  async compare(comparison: Comparison): Promise<void> {
    const measurable = comparison.sides.filter((side): side is Side => !isMissing(side));
    this.log(`${comparison.id}: ${measurable.map((s) => s.label).join(' | ')}`);
    let samples;
    try {
      samples = await measureSides(measurable, this.quick ? quickPlan : fullPlan);
    } catch (cause) {
      // One side throwing (a peer's own bug, a lost connection) loses this row, not the suite.
      const error = errorMessage(cause);
      this.log(`${comparison.id}: FAILED: ${error}`);
      this.rows.push({
        suite: this.suiteTitle,
        id: comparison.id,
        title: comparison.title,
        ...(comparison.note ? { note: comparison.note } : {}),
        sides: comparison.sides.map((side) => ({ kind: 'missing', label: side.label, reason: `row failed: ${error}` })),
        ratios: [],
        unmetTargets: (comparison.targets ?? []).map((t) => ({ ...t, reason: `row failed: ${error}` })),
        failed: error,
      });
      this.failures++;
      return;
    }
    const byLabel = new Map<string, number[]>();
    const sides: SideResult[] = comparison.sides.map((side) => {
      if (isMissing(side)) return { kind: 'missing', label: side.label, reason: side.missing };
      const index = measurable.indexOf(side);
      const rounds = samples.perRound[index]!;
      byLabel.set(side.label, rounds);
      return {
        kind: 'measured',
        label: side.label,
        config: side.config,
        opsPerCall: side.opsPerCall ?? 1,
        opsPerSec: median(rounds),
        minOpsPerSec: Math.min(...rounds),
        maxOpsPerSec: Math.max(...rounds),
        roundsOpsPerSec: rounds,
        calls: samples.calls[index]!,
      };
    });
    const first = comparison.sides[0];
    const liminal = first && !isMissing(first) ? byLabel.get(first.label) : undefined;
    const ratios: RatioResult[] = [];
    const unmetTargets: RowResult['unmetTargets'][number][] = [];
    for (const side of comparison.sides.slice(1)) {
      const target = comparison.targets?.find((t) => t.vs === side.label);
      const peer = byLabel.get(side.label);
      if (!liminal || !peer) {
        if (target) {
          const missing = [first, side].find((s) => s && isMissing(s));
          unmetTargets.push({ vs: side.label, atLeast: target.atLeast, reason: missing && isMissing(missing) ? missing.missing : 'not measured' });
        }
        continue;
      }
      const perRound = liminal.map((ops, round) => ops / peer[round]!);
      const ratio = median(perRound);
      ratios.push({
        vs: side.label,
        median: ratio,
        min: Math.min(...perRound),
        max: Math.max(...perRound),
        ...(target ? { target: target.atLeast, met: ratio >= target.atLeast } : {}),
      });
    }
    for (const side of sides) {
      if (side.kind === 'measured') this.log(`  ${side.label}: ${Math.round(side.opsPerSec)} ops/s`);
    }
    for (const ratio of ratios) {
      this.log(`  ratio vs ${ratio.vs}: ${times(ratio.median)}${ratio.target ? ` (target ≥ ${ratio.target})` : ''}`);
    }
    this.rows.push({
      suite: this.suiteTitle,
      id: comparison.id,
      title: comparison.title,
      ...(comparison.note ? { note: comparison.note } : {}),
      sides,
      ratios,
      unmetTargets,
    });
  }

  skip(comparison: Omit<Comparison, 'sides'> & { readonly sides: readonly string[] }, reason: string): void {
    this.log(`${comparison.id}: skipped (${reason})`);
    this.rows.push({
      suite: this.suiteTitle,
      id: comparison.id,
      title: comparison.title,
      ...(comparison.note ? { note: comparison.note } : {}),
      sides: comparison.sides.map((label) => ({ kind: 'missing', label, reason })),
      ratios: [],
      unmetTargets: (comparison.targets ?? []).map((t) => ({ ...t, reason })),
      skipped: reason,
    });
  }

  record(measurement: Measurement): void {
    // A NaN or infinite value (a rate over no interval) would otherwise reach
    // results.json as null and break the report of every suite.
    if (!Number.isFinite(measurement.value)) throw new Error(`${measurement.id}: measured ${String(measurement.value)} ${measurement.unit}, not a number`);
    const bounds = [measurement.atMost === undefined ? [] : [measurement.value <= measurement.atMost], measurement.atLeast === undefined ? [] : [measurement.value >= measurement.atLeast]].flat();
    const met = bounds.length === 0 ? undefined : bounds.every(Boolean);
    this.log(`${measurement.id}: ${measurement.value.toFixed(1)} ${measurement.unit}`);
    this.measurements.push({ suite: this.suiteTitle, ...measurement, ...(met === undefined ? {} : { met }) });
  }
}
