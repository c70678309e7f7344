import { Bench } from 'tinybench';
import type { Side } from './suite.js';

export interface RoundPlan {
  readonly rounds: number;
  /** Measured time per side per round, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Lower bound of calls per side per round (slow sides: a whole recovery per call). */
  readonly minCalls: number;
}

export const quickPlan: RoundPlan = { rounds: 3, timeMs: 200, warmupMs: 50, minCalls: 2 };
export const fullPlan: RoundPlan = { rounds: 12, timeMs: 350, warmupMs: 100, minCalls: 3 };

/** ops/s of each side in each round: `perRound[side][round]`. */
export interface RoundSamples {
  readonly perRound: number[][];
  readonly calls: number[];
}

/**
 * Runs the sides round-robin (A B C, A B C, ...) rather than all of A then all
 * of B: on a shared two-core machine the background load drifts within
 * seconds, and interleaving lets each round's ratio compare sides that ran
 * under the same load. tinybench does the per-round warm-up and timing; a
 * round's throughput is calls × opsPerCall / total time.
 */
export async function measureSides(sides: readonly Side[], plan: RoundPlan): Promise<RoundSamples> {
  const perRound: number[][] = sides.map(() => []);
  const calls: number[] = sides.map(() => 0);
  // tinybench probes a non-`async function` by calling it once without
  // awaiting it, which would overlap two calls of a stateful side (two
  // appends with the same expected sequence). Probe here instead, awaited.
  const isAsync: boolean[] = [];
  for (const side of sides) {
    const first = side.run();
    isAsync.push(first instanceof Promise);
    await first;
  }
  for (let round = 0; round < plan.rounds; round++) {
    for (const [index, side] of sides.entries()) {
      const bench = new Bench({
        time: plan.timeMs,
        iterations: plan.minCalls,
        warmup: true,
        warmupTime: round === 0 ? plan.warmupMs * 2 : plan.warmupMs,
        warmupIterations: 1,
        throws: true,
      });
      bench.add(side.label, side.run, { async: isAsync[index]! });
      await bench.run();
      const task = bench.tasks[0];
      const result = task?.result;
      if (!task || !result || !('period' in result)) {
        throw new Error(`tinybench produced no result for ${side.label}`);
      }
      perRound[index]!.push(((side.opsPerCall ?? 1) * 1000) / result.period);
      calls[index]! += task.runs;
    }
  }
  return { perRound, calls };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
