import { MemoryStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { fromPromise, SimulatedClock } from 'xstate';
import { DurableSteps, NonDeterminismError, openConversation, participant, type ParticipantInput, type StepContext } from '../src/index.js';

type Plan = readonly string[];

/** Runs `plan`'s steps in order, recording which step functions ran. */
function handler(plan: Plan, ran: string[], crashAfter?: string) {
  return async (steps: StepContext) => {
    for (const name of plan) {
      await steps.step(name, () => (ran.push(name), { done: name }));
      if (name === crashAfter) throw new Error(`crash after ${name}`);
    }
  };
}

describe('steps are identified by name', () => {
  // The first run records reserve, charge (then crashes before ship); the second run's handler changed.
  it.each([
    ['reordered', ['charge', 'reserve', 'ship'], 0, 'reserve', 'charge'],
    ['renamed', ['reserve', 'bill', 'ship'], 1, 'charge', 'bill'],
    ['inserted', ['reserve', 'fraudCheck', 'charge', 'ship'], 1, 'charge', 'fraudCheck'],
    ['removed', ['reserve', 'ship'], 1, 'charge', 'ship'],
    ['removed at the end', ['reserve'], 1, 'charge', undefined],
  ] as const)('%s steps -> NonDeterminismError; no step function runs and nothing is written', async (_case, changed, stepIndex, recorded, requested) => {
    const store = new MemoryStore();
    const first = await DurableSteps.open(store, 'orders');
    const ran: string[] = [];
    await expect(first.run('m1', handler(['reserve', 'charge', 'ship'], ran, 'charge'))).rejects.toThrow('crash after charge');
    expect(ran).toEqual(['reserve', 'charge']);
    const length = await store.streamLength('orders');

    const deployed = await DurableSteps.open(store, 'orders');
    const ranAfterDeploy: string[] = [];
    const error = await deployed.run('m1', handler(changed, ranAfterDeploy)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NonDeterminismError);
    expect(error).toMatchObject({ code: 'NON_DETERMINISM', messageId: 'm1', stepIndex, recorded, requested });
    expect(ranAfterDeploy).toEqual([]);
    // Only the admission (processingStarted) is written; no step, no error, no finish.
    expect(await store.streamLength('orders')).toBe(length + 1);
    const reopened = await DurableSteps.open(store, 'orders');
    expect(reopened.conversation.state.redeliveryDecision('m1')).toEqual({ kind: 'resumeFrom', step: 2 });
    expect(reopened.conversation.state.errorOf('m1')).toBe('Error: crash after charge');

    // The old definition still finishes it.
    await reopened.run('m1', handler(['reserve', 'charge', 'ship'], ranAfterDeploy));
    expect(ranAfterDeploy).toEqual(['ship']);
  });

  it('a step recorded without a name (written before names) is a DecodeError, not a guess', async () => {
    const store = new MemoryStore();
    const steps = await DurableSteps.open(store, 'c');
    await steps.begin('m1');
    await steps.conversation.recordStepCompleted('m1', 0, new TextEncoder().encode('{"v":1}'));
    const reopened = await DurableSteps.open(store, 'c');
    await expect(reopened.run('m1', async (ctx) => ctx.step('a', () => 2))).rejects.toMatchObject({ code: 'DECODE' });
  });

  it('in a conversation a refused replay rejects the ask; the conversation and its participant do not move', async () => {
    const ran: string[] = [];
    const shop = (plan: Plan, crashAfter?: string) =>
      participant('shop', fromPromise<string, ParticipantInput<string>>(async ({ input }) => (await handler(plan, ran, crashAfter)(input.steps), 'ok')));
    const store2 = new MemoryStore();
    const v1 = await DurableSteps.open(store2, 'f');
    await expect(v1.run('o1', handler(['reserve', 'charge'], ran, 'reserve'))).rejects.toThrow();
    const deployed = await openConversation({ id: 'f', mode: 'durable', store: store2, onCrash: 'fail', participants: [shop(['fraudCheck', 'reserve', 'charge'])] });
    ran.length = 0;
    const before = await store2.streamLength('f');
    const error = await deployed.ask('o', { messageId: 'o1', timeoutMs: 5000 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'NON_DETERMINISM', stepIndex: 0, recorded: 'reserve', requested: 'fraudCheck' });
    expect(ran).toEqual([]);
    expect(deployed.getState()).toMatchObject({ phase: 'active', participants: [{ participant: 'shop', health: { kind: 'alive' } }], failure: undefined });
    // Journal: the conversation's own records (creation, activation, the sent entry) and the admission; no step, no error.
    const reopened = await DurableSteps.open(store2, 'f');
    expect(reopened.conversation.state.lastCompletedStep('o1')).toBe(0);
    expect(reopened.conversation.state.errorOf('o1')).toBe('Error: crash after reserve');
    expect(await store2.streamLength('f')).toBeGreaterThan(before);
  });
});

describe('durable timers', () => {
  it('sleep records its wake-up time: a restarted run waits only what is left, an overdue one fires at once', async () => {
    const store = new MemoryStore();
    const clock = new SimulatedClock();
    clock.set(1000);
    const first = await DurableSteps.open(store, 'c', { timers: clock });
    const admission = await first.begin('m1');
    if (admission.kind !== 'run') throw new Error('expected run');
    let woke = false;
    void admission.steps.sleep('cool-off', 2000).then(() => (woke = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.increment(1000); // the process dies 1 s into the sleep
    expect(woke).toBe(false);

    const later = new SimulatedClock();
    later.set(2000);
    const restarted = await DurableSteps.open(store, 'c', { timers: later });
    const again = await restarted.begin('m1');
    if (again.kind !== 'run') throw new Error('expected run');
    let wokeAgain = false;
    const slept = again.steps.sleep('cool-off', 2000).then(() => (wokeAgain = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    later.increment(999);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(wokeAgain).toBe(false);
    later.increment(1); // the recorded deadline, 3000, not 2000 + 2000
    await slept;

    const overdue = await DurableSteps.open(store, 'c', { timers: { now: () => 10_000, setTimeout: () => { throw new Error('no wait expected'); } } });
    const third = await overdue.begin('m1');
    if (third.kind !== 'run') throw new Error('expected run');
    await third.steps.sleep('cool-off', 2000);
    await third.steps.sleepUntil('deadline', 5000); // already past: at once, and recorded
    expect(overdue.conversation.state.lastCompletedStep('m1')).toBe(1);
  });

  it('a sleep where a step was recorded (or the reverse) is a NonDeterminismError', async () => {
    const store = new MemoryStore();
    const first = await DurableSteps.open(store, 'c');
    await expect(first.run('m1', async (steps) => {
      await steps.step('wait', () => 1);
      throw new Error('crash');
    })).rejects.toThrow('crash');
    const second = await DurableSteps.open(store, 'c');
    await expect(second.run('m1', (steps) => steps.sleep('wait', 10))).rejects.toMatchObject({ code: 'NON_DETERMINISM', recorded: 'wait', requested: 'wait (sleep)' });
  });
});
