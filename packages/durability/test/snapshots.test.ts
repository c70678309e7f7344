import { MemoryStore, type DurableStore } from '@liminal/store';
import { ByteCountingStore, measureSnapshotGrowth } from '@liminal/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DurableConversation, recoveryMetrics, snapshotStreamFor, type ConversationEvent } from '../src/index.js';
import { conversationEventArb } from './support/arbitraries.js';
import { describeState } from './support/referenceModel.js';
import { bytes, readAll } from './support/stores.js';

const ids = ['m1', 'm2', 'm3', 'm4'];
const never = { snapshots: { kind: 'never' } } as const;

async function write(store: MemoryStore, events: readonly ConversationEvent[], every: number): Promise<void> {
  const writer = DurableConversation.create(store, 'c', { snapshots: { kind: 'everyEvents', events: every } });
  for (const event of events) {
    if ('messageId' in event) {
      if (event.kind === 'messageReceived') await writer.recordMessageReceived(event.messageId, event.receivedAt, event.payload);
      else if (event.kind === 'processingStarted') await writer.recordProcessingStarted(event.messageId);
      else if (event.kind === 'stepCompleted') await writer.recordStepCompleted(event.messageId, event.stepIndex, event.output);
      else if (event.kind === 'processingFinished') await writer.recordProcessingFinished(event.messageId);
      else await writer.recordError(event.messageId, event.error);
    } else {
      await writer.recordLifecycle(event);
    }
  }
}

describe('snapshot integrity', () => {
  it('property: a snapshot with any one byte changed is rejected (counted) and recovery equals a full replay', async () => {
    let mutations = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(conversationEventArb, { minLength: 12, maxLength: 40 }),
        fc.integer({ min: 2, max: 6 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (events, every, which, position, xor) => {
          const store = new MemoryStore();
          await write(store, events, every);
          const stream = snapshotStreamFor('c');
          const chain = await readAll(store, stream);
          const target = which % chain.length;
          const mutated = chain.map((entry, index) => {
            if (index !== target) return entry.payload;
            const copy = new Uint8Array(entry.payload);
            const at = position % copy.length;
            copy[at] = copy[at]! ^ xor;
            return copy;
          });
          await store.deleteStream(stream);
          await store.appendMany(stream, mutated, 0);

          const before = recoveryMetrics().snapshotsRejected;
          const recovered = await DurableConversation.recover(store, 'c');
          await store.deleteStream(stream);
          const truth = await DurableConversation.recover(store, 'c', never);
          mutations += 1;
          const rejectedNow = recoveryMetrics().snapshotsRejected - before;
          if (rejectedNow > 0) rejected += 1;
          // The mutated snapshot and every later one in the chain are not used.
          expect(rejectedNow).toBe(chain.length - target);
          expect(recovered.recoveredFrom).toEqual(target === 0 ? { kind: 'replay' } : { kind: 'snapshot', coversSeq: expect.any(Number), rejected: chain.length - target });
          expect(describeState(recovered.state, ids)).toEqual(describeState(truth.state, ids));
          expect(recovered.state.header).toEqual(truth.state.header);
          expect(recovered.expectedSeq).toBe(truth.expectedSeq);
        },
      ),
      { numRuns: 300 },
    );
    expect(rejected).toBe(mutations);
  });

  it('after a rejected snapshot the next one restarts the chain, which a later recovery uses', async () => {
    const store = new MemoryStore();
    const writer = DurableConversation.create(store, 'c', { snapshots: { kind: 'everyEvents', events: 2 } });
    for (let i = 0; i < 4; i++) await writer.recordStepCompleted('m', i, bytes(`s${i}`));
    const stream = snapshotStreamFor('c');
    const [first, second] = await readAll(store, stream);
    const broken = new Uint8Array(second!.payload);
    broken[broken.length - 1] = broken[broken.length - 1]! ^ 1;
    await store.deleteStream(stream);
    await store.appendMany(stream, [first!.payload, broken], 0);

    const reopened = await DurableConversation.recover(store, 'c', { snapshots: { kind: 'everyEvents', events: 2 } });
    expect(reopened.recoveredFrom).toEqual({ kind: 'snapshot', coversSeq: 2, rejected: 1 });
    await reopened.recordStepCompleted('m', 4, bytes('s4'));
    expect(await store.streamLength(stream)).toBe(1); // a fresh chain of one full snapshot
    const again = await DurableConversation.recover(store, 'c');
    expect(again.recoveredFrom).toEqual({ kind: 'snapshot', coversSeq: 5, rejected: 0 });
    expect(describeState(again.state, ['m'])).toEqual(describeState(reopened.state, ['m']));
  });
});

/**
 * Snapshot bytes written per message stay constant as a conversation ages:
 * total snapshot bytes grow linearly with the messages (before incremental
 * snapshots they grew with their square: 25x the event bytes at 20k
 * messages). `LIMINAL_SNAPSHOT_MESSAGES=200000` runs the long measurement.
 */
describe('the header across a snapshot chain', () => {
  const logged = (i: number) => bytes(`log entry ${i}`);
  /** The conversation's journal under another id, without snapshots: recovering it is a full replay. */
  const replayOfCopy = async (store: DurableStore) => {
    await store.appendMany('copy', (await readAll(store, 'c')).map((entry) => entry.payload), 0);
    return DurableConversation.recover(store, 'copy', never);
  };

  it('each snapshot carries only the log entries since the previous one; the recovered log equals a full replay, trimmed to the latest 256', async () => {
    const store = new ByteCountingStore(new MemoryStore());
    const writer = DurableConversation.create(store, 'c', { snapshots: { kind: 'everyEvents', events: 7 } });
    for (let i = 0; i < 700; i++) {
      if (i % 5 === 0) await writer.recordMessageReceived(`m${i}`, i);
      await writer.recordLifecycle({ kind: 'entryLogged', entry: logged(i) });
      if (i % 5 === 4) await writer.recordProcessingFinished(`m${i - 4}`);
    }
    const fromChain = await DurableConversation.recover(store, 'c');
    const replayed = await replayOfCopy(store);
    expect(fromChain.recoveredFrom.kind).toBe('snapshot');
    expect(replayed.recoveredFrom).toEqual({ kind: 'replay' });
    expect(fromChain.state.header).toEqual(replayed.state.header);
    expect(fromChain.state.header.recentLog).toEqual(Array.from({ length: 256 }, (_, i) => logged(700 - 256 + i)));
    expect(fromChain.state.header.loggedCount).toBe(700);
    // 840 events (18 KB), a snapshot every 7: with the whole recent log in each header they were 120 snapshots
    // of up to 256 entries (~4 KB each, ~16x the event bytes); with deltas, chain restarts included, ~4x.
    expect(store.snapshotBytes).toBeLessThan(6 * store.eventBytes);
  });
});

describe('snapshot cost of a long-lived conversation', () => {
  const total = Number(process.env['LIMINAL_SNAPSHOT_MESSAGES'] ?? 20_000);

  it(`bytes written grow linearly over ${total.toLocaleString('en-US')} messages`, { timeout: 600_000 }, async () => {
    const { store, checkpoints } = await measureSnapshotGrowth((counting) => DurableConversation.create(counting, 'long'), total);
    console.log(JSON.stringify({ snapshotGrowth: checkpoints }));
    const perMessage = checkpoints.map((c) => c.snapshotBytes / c.messages);
    // Linear: the snapshot bytes per message of the last quarter stay within
    // 25% of the first quarter's (quadratic growth would make them 4x).
    const quarters = checkpoints.map((c, i) => c.snapshotBytes - (i === 0 ? 0 : checkpoints[i - 1]!.snapshotBytes));
    expect(quarters[3]! / quarters[0]!).toBeLessThan(1.25);
    expect(Math.max(...perMessage) / Math.min(...perMessage)).toBeLessThan(1.25);
    expect(store.snapshotBytes).toBeLessThan(2 * store.eventBytes);

    const reopened = await DurableConversation.recover(store, 'long');
    expect(reopened.recoveredFrom.kind).toBe('snapshot');
    expect(reopened.state.isFullyProcessed(`order-${total}`) || reopened.state.hasReceived(`order-${total}`)).toBe(true);
    expect(reopened.state.isFullyProcessed('order-1')).toBe(true);
  });
});
