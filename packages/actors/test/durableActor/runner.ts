import type { DurableStore } from '@liminal/store';
import type { AnyStateMachine } from 'xstate';
import { createDurableActor, type Clock, type DurableActor } from '../../src/index.js';
import type { ConformanceCase, Effects, Step } from './cases.js';

export function openCase(testCase: ConformanceCase, store: DurableStore, clock: Clock, effects: Effects): Promise<DurableActor<AnyStateMachine>> {
  return createDurableActor(testCase.machine(effects), {
    store,
    id: testCase.name,
    clock,
    ...(testCase.input === undefined ? {} : { input: testCase.input }),
    ...(testCase.snapshotEvery === undefined ? {} : { snapshotEvery: testCase.snapshotEvery }),
  });
}

export async function runStep(actor: DurableActor<AnyStateMachine>, step: Step, clock: { advance(ms: number): void }): Promise<void> {
  if ('send' in step) await actor.send(step.send);
  else if ('sendToSystem' in step) await actor.system.get(step.sendToSystem)!.send(step.event);
  else clock.advance(step.advance);
  await settle(actor);
}

/** Lets promise children and timers that fell due reach the journal and be processed. */
export async function settle(actor: DurableActor<AnyStateMachine>): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await actor.flush();
  }
}
