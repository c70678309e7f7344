import { ConfigError, DecodeError, InvalidArgumentError, MemoryStore, SequenceConflictError } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codec, type ConversationEvent, DurableConversation, recoverConversation, REPLAY_BATCH_SIZE, snapshotStreamFor } from '../src/index.js';
import { conversationEventArb } from './support/arbitraries.js';
import { describeModel, describeState, ReferenceModel } from './support/referenceModel.js';
import { bytes, CountingStore, readAll, storeKinds, useStore } from './support/stores.js';

const ids = ['m1', 'm2', 'm3', 'm4', 'never-seen'];
const never = { snapshots: { kind: 'never' } } as const;

describe.each(storeKinds)('DurableConversation on $name', (kind) => {
  const open = useStore(kind);

  it('appends each record at the expected sequence', async () => {
    const conversation = DurableConversation.create(await open(), 'conv-1');
    expect(await conversation.receiveMessage('m', 100)).toEqual({ kind: 'start' });
    expect(await conversation.recordProcessingStarted('m')).toBe(1);
    expect(await conversation.recordStepCompleted('m', 0, bytes('out'))).toBe(2);
    expect(await conversation.recordError('m', 'flaky')).toBe(3);
    expect(await conversation.recordProcessingFinished('m')).toBe(4);
    expect(conversation.expectedSeq).toBe(5);
  });

  it('appends messageReceived only for a never-seen message', async () => {
    const store = await open();
    const conversation = DurableConversation.create(store, 'conv-1');
    await conversation.receiveMessage('m', 1);
    await conversation.recordStepCompleted('m', 0, bytes('a'));
    expect(await conversation.receiveMessage('m', 2)).toEqual({ kind: 'resumeFrom', step: 1 });
    await conversation.recordProcessingFinished('m');
    expect(await conversation.receiveMessage('m', 3)).toEqual({ kind: 'skip' });
    expect(await store.streamLength('conv-1')).toBe(3);
  });

  it('recovers state and continues appending at the right sequence', async () => {
    const store = await open();
    const before = DurableConversation.create(store, 'conv-1');
    await before.receiveMessage('m', 1);
    await before.recordProcessingStarted('m');
    await before.recordStepCompleted('m', 0, bytes('step 0'));
    const after = await recoverConversation(store, 'conv-1');
    expect(after.expectedSeq).toBe(3);
    expect(after.recoveredFrom).toEqual({ kind: 'replay' });
    expect(await after.receiveMessage('m', 2)).toEqual({ kind: 'resumeFrom', step: 1 });
    expect(after.state.stepOutput('m', 0)).toEqual(bytes('step 0'));
    expect(await after.recordStepCompleted('m', 1, bytes('step 1'))).toBe(3);
  });

  it('recovers an absent conversation as empty', async () => {
    const conversation = await DurableConversation.recover(await open(), 'nobody');
    expect(conversation.expectedSeq).toBe(0);
    expect(conversation.recoveredFrom).toEqual({ kind: 'empty' });
  });

  it('fences a second writer with the store SequenceConflictError, unchanged and unretried', async () => {
    const store = await open();
    DurableConversation.create(store, 'conv-1');
    const a = await DurableConversation.recover(store, 'conv-1');
    const b = await DurableConversation.recover(store, 'conv-1');
    await a.receiveMessage('m', 1);
    const error = await b.recordProcessingStarted('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SequenceConflictError);
    expect(error).toMatchObject({ stream: 'conv-1', expected: 0, actual: 1 });
    expect(b.expectedSeq).toBe(0);
    expect(b.state.messageCount).toBe(0);
    expect(await store.streamLength('conv-1')).toBe(1);
  });

  it('fences every record* of a stale writer with the store’s own SequenceConflictError, appending once and never retrying', async () => {
    const inner = await open();
    const store = new AppendRecordingStore(inner);
    const stale = DurableConversation.create(store, 'conv-1');
    await DurableConversation.create(inner, 'conv-1').receiveMessage('winner', 1);
    const records = [
      () => stale.receiveMessage('m', 1),
      () => stale.recordMessageReceived('m', 1),
      () => stale.recordProcessingStarted('m'),
      () => stale.recordStepCompleted('m', 0, bytes('x')),
      () => stale.recordProcessingFinished('m'),
      () => stale.recordError('m', 'e'),
    ];
    for (const record of records) {
      const appendsBefore = store.appends;
      const error = await record().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SequenceConflictError);
      expect(error).toBe(store.lastError);
      expect(error).toMatchObject({ stream: 'conv-1', expected: 0, actual: 1 });
      expect(store.appends - appendsBefore).toBe(1);
    }
    expect(stale.expectedSeq).toBe(0);
    expect(stale.state.messageCount).toBe(0);
    expect(await inner.streamLength('conv-1')).toBe(1);
  });

  it('fences create() on a stream that already has events', async () => {
    const store = await open();
    await DurableConversation.create(store, 'conv-1').receiveMessage('m', 1);
    await expect(DurableConversation.create(store, 'conv-1').receiveMessage('n', 1)).rejects.toBeInstanceOf(SequenceConflictError);
  });

  it('rejects invalid arguments before appending', async () => {
    const store = await open();
    const conversation = DurableConversation.create(store, 'conv-1');
    await expect(conversation.recordStepCompleted('m', -1, bytes(''))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conversation.recordStepCompleted('m', 2 ** 53, bytes(''))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conversation.receiveMessage('m', 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conversation.recordError('m', 'lone \uDC00')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => DurableConversation.create(store, 'snapshot/x')).toThrow(InvalidArgumentError);
    expect(() => DurableConversation.create(store, 'partition/orders/0')).toThrow(InvalidArgumentError);
    expect(() => DurableConversation.create(store, '')).toThrow(InvalidArgumentError);
    await expect(DurableConversation.recover(store, '')).rejects.toBeInstanceOf(InvalidArgumentError);
    const badOptions = [null, { snapshots: { kind: 'everyEvents', events: 0 } }, { snapshots: { kind: 'everyEvents', events: 1.5 } }, { snapshots: { kind: 'sometimes' } }, { snapshots: { kind: 'everyEvents', events: 8, idleEvents: 0 } }];
    for (const options of badOptions) {
      expect(() => DurableConversation.create(store, 'conv-1', options as never)).toThrow(ConfigError);
      await expect(DurableConversation.recover(store, 'conv-1', options as never)).rejects.toBeInstanceOf(ConfigError);
    }
    expect(await store.streamLength('conv-1')).toBe(0);
    expect(conversation.expectedSeq).toBe(0);
  });

  it('fails recovery with DecodeError on malformed, truncated or wrong-version events and leaves the stream as it was', async () => {
    const store = await open();
    const good = codec.encode({ kind: 'processingStarted', messageId: 'm' });
    const wrongVersion = good.slice();
    wrongVersion[1] = 9;
    const cases = [Uint8Array.of(1, 2, 3), good.subarray(0, good.length - 1), wrongVersion, codec.encode({ kind: 'dedupClaim', key: 'k', token: 't', owner: 'o', timestampMs: 0, expiresAtMs: 1 })];
    for (const [i, bad] of cases.entries()) {
      const stream = `broken-${i}`;
      await store.appendMany(stream, [good, bad, good], 0);
      const before = await readAll(store, stream);
      await expect(DurableConversation.recover(store, stream)).rejects.toBeInstanceOf(DecodeError);
      expect(await readAll(store, stream)).toEqual(before);
    }
  });

  it('writes a snapshot every N events and recovers from it, reading only later events', async () => {
    const inner = await open();
    const conversation = DurableConversation.create(inner, 'conv-1', { snapshots: { kind: 'everyEvents', events: 4 } });
    for (let step = 0; step < 10; step++) await conversation.recordStepCompleted('m', step, bytes(`s${step}`));
    const store = new CountingStore(inner);
    const recovered = await DurableConversation.recover(store, 'conv-1');
    expect(recovered.recoveredFrom).toEqual({ kind: 'snapshot', coversSeq: 8, rejected: 0 });
    expect(store.entriesRead.get('conv-1')).toBe(2);
    expect(recovered.expectedSeq).toBe(10);
    expect(describeState(recovered.state, ['m'])).toEqual(describeState(conversation.state, ['m']));
    // Incremental: the snapshot at 8 holds only what changed after the one at 4.
    expect(await inner.streamLength(snapshotStreamFor('conv-1'))).toBe(2);
  });

  it('snapshots an idle conversation after idleEvents, so a reopen after idling replays nothing; a busy one waits for N events', async () => {
    const inner = await open();
    const conversation = DurableConversation.create(inner, 'conv-1', { snapshots: { kind: 'everyEvents', events: 100, idleEvents: 6 } });
    await conversation.receiveMessage('m1', 1);
    await conversation.recordProcessingStarted('m1');
    for (let step = 0; step < 8; step++) await conversation.recordStepCompleted('m1', step, bytes(`s${step}`));
    // 10 events, m1 still unfinished: no snapshot yet (a busy conversation keeps the every-100 rule).
    expect(await inner.streamLength(snapshotStreamFor('conv-1'))).toBe(0);
    await conversation.recordProcessingFinished('m1');
    // Nothing unfinished, 11 events since the last snapshot: one snapshot covering the whole log.
    expect(await inner.streamLength(snapshotStreamFor('conv-1'))).toBe(1);
    const store = new CountingStore(inner);
    const recovered = await DurableConversation.recover(store, 'conv-1');
    expect(recovered.recoveredFrom).toEqual({ kind: 'snapshot', coversSeq: 11, rejected: 0 });
    expect(store.entriesRead.get('conv-1') ?? 0).toBe(0);
    expect(describeState(recovered.state, ['m1'])).toEqual(describeState(conversation.state, ['m1']));
    // Idle but fewer than idleEvents since the snapshot: no new one.
    await conversation.receiveMessage('m2', 2);
    await conversation.recordProcessingStarted('m2');
    await conversation.recordProcessingFinished('m2');
    expect(await inner.streamLength(snapshotStreamFor('conv-1'))).toBe(1);
  });

  it('restarts a snapshot chain in one commit (delete + append) once it outgrows a full snapshot: what recovery reads stays bounded, and equals the state', async () => {
    const store = await open();
    const conversation = DurableConversation.create(store, 'conv-1', { snapshots: { kind: 'everyEvents', events: 3 } });
    await conversation.receiveMessage('m', 1);
    await conversation.recordProcessingStarted('m');
    let restarts = 0;
    for (let step = 0, previous = 0; step < 200; step++) {
      await conversation.recordStepCompleted('m', step, bytes(`output ${step}`));
      const length = await store.streamLength(snapshotStreamFor('conv-1'));
      if (length < previous) restarts += 1;
      previous = length;
    }
    // Each delta holds the running message with every output so far: without restarts the chain would grow
    // with the square of the steps (66 snapshots averaging 100 outputs).
    expect(restarts).toBeGreaterThan(2);
    const chain = await readAll(store, snapshotStreamFor('conv-1'));
    expect(chain.reduce((sum, entry) => sum + entry.payload.length, 0)).toBeLessThanOrEqual(3 * chain[0]!.payload.length);
    const recovered = await DurableConversation.recover(store, 'conv-1');
    expect(recovered.recoveredFrom).toMatchObject({ kind: 'snapshot', rejected: 0 });
    expect(recovered.expectedSeq).toBe(202);
    expect(describeState(recovered.state, ['m'])).toEqual(describeState(conversation.state, ['m']));
  });

  it('falls back to a full replay when the snapshot is corrupt or belongs to another conversation', async () => {
    const store = await open();
    const conversation = DurableConversation.create(store, 'conv-1', { snapshots: { kind: 'everyEvents', events: 2 } });
    for (let step = 0; step < 3; step++) await conversation.recordStepCompleted('m', step, bytes(`s${step}`));
    const snapshots = snapshotStreamFor('conv-1');
    const [valid] = await readAll(store, snapshots);
    const corrupt = valid!.payload.subarray(0, valid!.payload.length - 1);
    const foreign = codec.encode({ ...codec.decodeAs(valid!.payload, 'conversationSnapshot'), conversationId: 'other' });
    for (const bad of [corrupt, foreign]) {
      await store.deleteStream(snapshots);
      await store.append(snapshots, bad, 0);
      const recovered = await DurableConversation.recover(store, 'conv-1');
      expect(recovered.recoveredFrom).toEqual({ kind: 'replay' });
      expect(describeState(recovered.state, ['m'])).toEqual(describeState(conversation.state, ['m']));
    }
  });

  it('replays in batches of 1024 entries', async () => {
    const inner = await open();
    const event = codec.encode({ kind: 'processingStarted', messageId: 'm' });
    await inner.appendMany('conv-1', Array.from({ length: 2500 }, () => event), 0);
    const store = new CountingStore(inner);
    const recovered = await DurableConversation.recover(store, 'conv-1', never);
    expect(recovered.expectedSeq).toBe(2500);
    expect(store.reads.filter((r) => r.stream === 'conv-1')).toEqual(
      [0, 1024, 2048].map((fromSeq) => ({ stream: 'conv-1', fromSeq, limit: REPLAY_BATCH_SIZE })),
    );
  });
});

describe('DurableConversation snapshots (MemoryStore)', () => {
  it('property: replay from zero == replay from a snapshot == reference model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(conversationEventArb, { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (events, every) => {
        const store = new MemoryStore();
        const writer = DurableConversation.create(store, 'c', { snapshots: { kind: 'everyEvents', events: every } });
        for (const event of events) await appendVia(writer, event);
        const fromSnapshot = await DurableConversation.recover(store, 'c');
        const fromZero = await DurableConversation.recover(store, 'c', never);
        await store.deleteStream(snapshotStreamFor('c'));
        const withoutSnapshot = await DurableConversation.recover(store, 'c');
        const model = describeModel(ReferenceModel.replay(events), ids);
        expect(describeState(fromSnapshot.state, ids)).toEqual(model);
        expect(describeState(fromZero.state, ids)).toEqual(model);
        expect(describeState(withoutSnapshot.state, ids)).toEqual(model);
        expect(fromSnapshot.state.header).toEqual(fromZero.state.header);
        expect(fromSnapshot.expectedSeq).toBe(events.length);
        if (events.length >= every) expect(fromSnapshot.recoveredFrom.kind).toBe('snapshot');
      }),
      { numRuns: 100 },
    );
  });

  it('recovers a 100,000-event conversation from its snapshot reading only the events after it', async () => {
    const inner = new MemoryStore();
    const events = Array.from({ length: 100_000 }, (_, i) =>
      codec.encode({ kind: 'stepCompleted', messageId: `m${i % 500}`, stepIndex: Math.floor(i / 500), output: Uint8Array.of(i & 0xff) }),
    );
    await inner.appendMany('big', events, 0);
    const writer = await DurableConversation.recover(inner, 'big'); // full replay; no snapshot yet
    expect(writer.recoveredFrom).toEqual({ kind: 'replay' });
    await writer.recordProcessingFinished('m0'); // event 100,000: due for a snapshot
    for (let i = 0; i < 7; i++) await writer.recordStepCompleted('m1', 200 + i, bytes('late'));

    const store = new CountingStore(inner);
    const recovered = await DurableConversation.recover(store, 'big');
    expect(recovered.recoveredFrom).toEqual({ kind: 'snapshot', coversSeq: 100_001, rejected: 0 });
    expect(store.entriesRead.get('big')).toBe(7);
    expect(recovered.expectedSeq).toBe(100_008);
    expect(recovered.state.isFullyProcessed('m0')).toBe(true);
    expect(recovered.state.lastCompletedStep('m1')).toBe(206);
    expect(recovered.state.lastCompletedStep('m499')).toBe(199);
    expect(recovered.state.stepOutput('m499', 199)).toEqual(Uint8Array.of(99_999 & 0xff));
  });
});

/** Counts appends and keeps the last error the store raised. */
class AppendRecordingStore extends ForwardingStore {
  appends = 0;
  lastError: unknown;

  override async append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    this.appends++;
    try {
      return await super.append(stream, payload, expectedSeq);
    } catch (error) {
      this.lastError = error;
      throw error;
    }
  }
}

function appendVia(conversation: DurableConversation, event: ConversationEvent): Promise<unknown> {
  switch (event.kind) {
    case 'messageReceived':
      return conversation.recordMessageReceived(event.messageId, event.receivedAt, event.payload);
    case 'processingStarted':
      return conversation.recordProcessingStarted(event.messageId);
    case 'stepCompleted':
      return conversation.recordStepCompleted(event.messageId, event.stepIndex, event.output);
    case 'processingFinished':
      return conversation.recordProcessingFinished(event.messageId);
    case 'errorOccurred':
      return conversation.recordError(event.messageId, event.error);
    default:
      return conversation.recordLifecycle(event);
  }
}
