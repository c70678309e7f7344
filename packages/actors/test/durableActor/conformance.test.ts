import { availableStoreKinds, ManualClock } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { conformanceCases, regressionCases, START_TIME } from './cases.js';
import { openCase, runStep, settle } from './runner.js';

const kinds = await availableStoreKinds();

// The uninterrupted half of the conformance run, on every store adapter: one
// process, one actor, every step. `test/integration/durableActorKilled.test.ts`
// runs the same cases with a SIGKILL after every step.
describe.each(kinds)('durable actor conformance (uninterrupted, $name)', (kind) => {
  for (const testCase of [...conformanceCases, ...regressionCases]) {
    it(testCase.name, async () => {
      const store = await kind.open();
      try {
        const clock = new ManualClock(START_TIME);
        const effects: string[] = [];
        const actor = await openCase(testCase, store, clock, { record: (effect) => effects.push(effect) });
        for (const step of testCase.steps) await runStep(actor, step, clock);
        await settle(actor);
        expect(testCase.observe(actor)).toEqual(testCase.expected);
        expect(effects).toEqual(testCase.effects);
        await actor.stop();
      } finally {
        await store.close();
      }
    });
  }
});
