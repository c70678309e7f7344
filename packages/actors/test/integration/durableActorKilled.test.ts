import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases, regressionCases } from '../durableActor/cases.js';
import { killWhenReady } from './support/killWhenReady.js';

const worker = fileURLToPath(new URL('./fixtures/durableActorWorker.ts', import.meta.url));
const cases = [...conformanceCases, ...regressionCases];

/** Runs one worker process until it prints "ready", then kills it with SIGKILL. */
async function runAndKill(path: string, effects: string, step: string): Promise<{ observations: Record<string, unknown>; snapshots: Record<string, number>; signal: NodeJS.Signals | null }> {
  const exit = await killWhenReady(worker, [path, effects, step]);
  if (!exit.stdout.endsWith('ready\n')) throw new Error(`worker (step ${step}) exited with ${exit.code ?? exit.signal} before it was ready:\n${exit.stderr}`);
  return { ...(JSON.parse(exit.stdout.split('\n')[0]!) as { observations: Record<string, unknown>; snapshots: Record<string, number> }), signal: exit.signal };
}

// Every case of cases.ts, each step in its own process killed with SIGKILL
// right after it; the next process reopens every actor from the SQLite file.
// All cases share each process, so the whole run costs one process per step.
describe('durable actor conformance (killed after every step)', () => {
  let directory: string;
  let observations: Record<string, unknown>;
  let signals: (NodeJS.Signals | null)[];
  let snapshots: Record<string, number>;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'liminal-durable-actor-'));
    const path = join(directory, 'actors.db');
    const steps = Math.max(...cases.map((testCase) => testCase.steps.length));
    signals = [];
    for (let step = 0; step < steps; step++) signals.push((await runAndKill(path, directory, String(step))).signal);
    const last = await runAndKill(path, directory, 'observe');
    signals.push(last.signal);
    observations = last.observations;
    snapshots = last.snapshots;
  }, 240_000);

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('every process was killed with SIGKILL', () => {
    expect(signals.length).toBe(Math.max(...cases.map((testCase) => testCase.steps.length)) + 1);
    expect(new Set(signals)).toEqual(new Set(['SIGKILL']));
  });

  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(observations[testCase.name]).toEqual(testCase.expected);
      // With snapshotEvery 1 every reopen went through XState's snapshot restore, not a full replay.
      if (testCase.snapshotEvery === 1) expect(snapshots[testCase.name]).toBeGreaterThan(1);
      let effects: string[] = [];
      try {
        effects = readFileSync(join(directory, `${encodeURIComponent(testCase.name)}.log`), 'utf8').split('\n').filter(Boolean);
      } catch {
        // no effect was ever recorded
      }
      expect(effects).toEqual(testCase.effects);
    });
  }
});
