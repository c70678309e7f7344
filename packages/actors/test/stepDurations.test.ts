import { DurableConversation } from '@liminal/durability';
import { DecodeError, MemoryStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { DurableSteps, readConversationTimeline, type StepTimers, type TimelineEntry } from '../src/index.js';
import { decodeStepRecord, encodeStepRecord } from '../src/internal/stepRecord.js';

/** The steps' clock, moved by the steps themselves: no wall clock involved. */
function manualTimers(start: number): StepTimers & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, setTimeout: (callback) => (callback(), 0), advance: (ms) => void (now += ms) };
}

describe('step durations are journaled', () => {
  it('each named step records how long it ran by the injected clock; the timeline gives it back after a reopen', async () => {
    const store = new MemoryStore();
    const timers = manualTimers(1_000_000);
    const compensations = { refund: async () => {} };
    const steps = await DurableSteps.open(store, 'order-1', { timers, compensations });
    await steps.run('m1', async (ctx) => {
      await ctx.step('reserve', () => (timers.advance(120), 'sku-1'));
      await ctx.step('charge', () => (timers.advance(2_500), { paid: 40 }), { compensate: 'refund' });
      await ctx.step('instant', () => 'now');
    });
    const timeline = await readConversationTimeline(store, 'order-1');
    const durations = timeline!.entries.filter((entry): entry is Extract<TimelineEntry, { kind: 'step' }> => entry.kind === 'step').map(({ name, durationMs }) => [name, durationMs]);
    expect(durations).toEqual([['reserve', 120], ['charge', 2_500], ['instant', 0]]);

    // A replayed step keeps its recorded duration and is not run (nor timed) again.
    const reopened = await DurableSteps.open(store, 'order-1', { timers, compensations });
    expect(await reopened.run('m1', async () => 'never')).toEqual({ kind: 'skipped' });
  });

  it('a record written before durations were journaled still reads (no duration); a damaged duration is a DecodeError', () => {
    const payload = new TextEncoder().encode('{"v":1}');
    const old = encodeStepRecord({ kind: 'step', name: 'a', payload });
    expect(old[0]).toBe(0x10);
    expect(decodeStepRecord(old)).toEqual({ kind: 'step', name: 'a', payload });
    const timed = encodeStepRecord({ kind: 'step', name: 'a', payload, durationMs: 7.5 });
    expect(timed[0]).toBe(0x14);
    expect(decodeStepRecord(timed)).toEqual({ kind: 'step', name: 'a', payload, durationMs: 7.5 });
    const negative = timed.slice();
    new DataView(negative.buffer).setFloat64(1, -1);
    expect(() => decodeStepRecord(negative)).toThrow(DecodeError);
    expect(() => decodeStepRecord(timed.subarray(0, 5))).toThrow(DecodeError);
  });

  it('a durable conversation journal keeps the duration next to the output', async () => {
    const store = new MemoryStore();
    const timers = manualTimers(0);
    const conversation = await DurableConversation.recover(store, 'c');
    const steps = DurableSteps.over(conversation, { timers });
    await steps.run('m1', async (ctx) => ctx.step('slow', () => (timers.advance(60_000), 1)));
    const [step] = (await readConversationTimeline(store, 'c'))!.entries.filter((entry) => entry.kind === 'step');
    expect(step).toMatchObject({ name: 'slow', output: { kind: 'json', value: 1 }, durationMs: 60_000 });
  });
});
