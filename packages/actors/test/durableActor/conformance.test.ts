import { MemoryStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { conformanceCases, regressionCases, START_TIME } from './cases.js';
import { ManualClock } from './manualClock.js';
import { openCase, runStep, settle } from './runner.js';

// The uninterrupted half of the conformance run: one process, one actor, every step.
// `killed.test.ts` runs the same cases with a SIGKILL after every step.
describe('durable actor conformance (uninterrupted)', () => {
  for (const testCase of [...conformanceCases, ...regressionCases]) {
    it(testCase.name, async () => {
      const store = new MemoryStore();
      const clock = new ManualClock(START_TIME);
      const effects: string[] = [];
      const actor = await openCase(testCase, store, clock, { record: (effect) => effects.push(effect) });
      for (const step of testCase.steps) await runStep(actor, step, clock);
      await settle(actor);
      expect(testCase.observe(actor)).toEqual(testCase.expected);
      expect(effects).toEqual(testCase.effects);
      await actor.stop();
    });
  }
});
