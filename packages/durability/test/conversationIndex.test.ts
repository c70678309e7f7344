import { MemoryStore, SequenceConflictError, type StoredEntry } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { DurableConversation, listConversations, readConversationSummary } from '../src/index.js';
import { bytes, storeKinds, useStore } from './support/stores.js';

describe.each(storeKinds)('conversation index on $name', (kind) => {
  const open = useStore(kind);

  it('is updated with each journal commit: phase, version, created-at, last activity, step count, in-flight, failure', async () => {
    const store = await open();
    let now = 1000;
    const conversation = DurableConversation.create(store, 'order-1', { index: true, now: () => now });
    await conversation.recordLifecycle({ kind: 'conversationCreated', version: 'v2', createdAt: 1000 });
    expect(await readConversationSummary(store, 'order-1')).toEqual({
      id: 'order-1', phase: 'created', version: 'v2', createdAt: 1000, lastActivityAt: 1000, stepCount: 0, inFlight: false, failure: undefined,
    });
    now = 2000;
    await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'active', at: 2000 });
    await conversation.receiveMessage('m1', 2000);
    await conversation.recordStepCompleted('m1', 0, bytes('a'));
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'active', lastActivityAt: 2000, stepCount: 1, inFlight: true });
    now = 3000;
    await conversation.recordProcessingFinished('m1');
    await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'failed', at: 3000, failure: 'timeout' });
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'failed', lastActivityAt: 3000, stepCount: 1, inFlight: false, failure: { reason: 'timeout' } });
    // A reopened writer goes on from the stored index.
    const reopened = await DurableConversation.recover(store, 'order-1', { index: true, now: () => 4000 });
    await reopened.recordStepCompleted('m2', 0, bytes('b'));
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'failed', lastActivityAt: 4000, stepCount: 2, inFlight: false });
  });

  it('a fenced journal append changes nothing in the index (same commit)', async () => {
    const store = await open();
    const a = DurableConversation.create(store, 'c', { index: true, now: () => 10 });
    await a.recordLifecycle({ kind: 'conversationCreated', version: '1', createdAt: 10 });
    const stale = await DurableConversation.recover(store, 'c', { index: true, now: () => 20 });
    await a.recordStepCompleted('m', 0, bytes('x'));
    const before = await readConversationSummary(store, 'c');
    await expect(stale.recordLifecycle({ kind: 'phaseChanged', phase: 'failed', at: 30, failure: 'requested' })).rejects.toBeInstanceOf(SequenceConflictError);
    expect(await readConversationSummary(store, 'c')).toEqual(before);
    expect((await listConversations(store, { phase: 'failed' })).conversations).toEqual([]);
  });

  it('recordEvents writes several events in one commit: the index ends where the last leaves it, with a summary per phase change', async () => {
    const store = await open();
    let commits = 0;
    const counting = new (class extends ForwardingStore {
      override commit(ops: Parameters<ForwardingStore['commit']>[0]) {
        commits += 1;
        return super.commit(ops);
      }
    })(store);
    const conversation = DurableConversation.create(counting, 'batch', { index: true, now: () => 500 });
    const first = await conversation.recordEvents([
      { kind: 'conversationCreated', version: 'v1', createdAt: 500 },
      { kind: 'phaseChanged', phase: 'active', at: 500 },
      { kind: 'messageReceived', messageId: 'm1', receivedAt: 500 },
      { kind: 'processingStarted', messageId: 'm1' },
      { kind: 'stepCompleted', messageId: 'm1', stepIndex: 0, output: bytes('a') },
    ]);
    expect({ first, commits, expectedSeq: conversation.expectedSeq }).toEqual({ first: 0, commits: 1, expectedSeq: 5 });
    expect(await readConversationSummary(store, 'batch')).toEqual({
      id: 'batch', phase: 'active', version: 'v1', createdAt: 500, lastActivityAt: 500, stepCount: 1, inFlight: true, failure: undefined,
    });
    // One summary record per phase-changing event, and only the last phase listed.
    expect(await store.streamLength('conversation/batch')).toBe(2);
    expect((await listConversations(store, { phase: 'created' })).conversations).toEqual([]);
    expect((await listConversations(store, { phase: 'active' })).conversations.map((c) => c.id)).toEqual(['batch']);
    await conversation.recordEvents([
      { kind: 'processingFinished', messageId: 'm1' },
      { kind: 'phaseChanged', phase: 'completing', at: 600 },
      { kind: 'phaseChanged', phase: 'closed', at: 600 },
    ]);
    expect(await readConversationSummary(store, 'batch')).toMatchObject({ phase: 'closed', stepCount: 1, inFlight: false });
    expect((await listConversations(store, { phase: 'active' })).conversations).toEqual([]);
    expect((await listConversations(store, { phase: 'closed' })).conversations.map((c) => c.id)).toEqual(['batch']);
    // The state replayed from the log is the one the writer holds.
    const recovered = await DurableConversation.recover(store, 'batch');
    expect({ phase: recovered.state.header.phase, finished: recovered.state.isFullyProcessed('m1'), seq: recovered.expectedSeq }).toEqual({ phase: 'closed', finished: true, seq: 8 });
  });

  it('recordEvents is all or nothing: a fenced batch writes no event and leaves the writer where it was', async () => {
    const store = await open();
    const a = DurableConversation.create(store, 'fenced', { index: true, now: () => 10 });
    await a.recordLifecycle({ kind: 'conversationCreated', version: '1', createdAt: 10 });
    const stale = await DurableConversation.recover(store, 'fenced', { index: true, now: () => 20 });
    await a.receiveMessage('m', 10);
    await expect(
      stale.recordEvents([
        { kind: 'messageReceived', messageId: 'n', receivedAt: 20 },
        { kind: 'processingStarted', messageId: 'n' },
      ]),
    ).rejects.toBeInstanceOf(SequenceConflictError);
    expect({ length: await store.streamLength('fenced'), seq: stale.expectedSeq, received: stale.state.hasReceived('n') }).toEqual({ length: 2, seq: 1, received: false });
    await expect(stale.recordEvents([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(stale.recordEvents([{ kind: 'stepCompleted', messageId: 'n', stepIndex: -1, output: bytes('x') }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('lists pages in id order and filters by phase', async () => {
    const store = await open();
    const ids = ['a', 'b/slash', 'c%', 'd', 'e'];
    for (const [i, id] of ids.entries()) {
      const conversation = DurableConversation.create(store, id, { index: true, now: () => i });
      await conversation.recordLifecycle({ kind: 'conversationCreated', version: '1', createdAt: i });
      if (i % 2 === 0) await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'active', at: i });
    }
    const first = await listConversations(store, { limit: 2 });
    expect(first.conversations.map((c) => c.id)).toEqual(['a', 'b/slash']);
    const second = await listConversations(store, { limit: 2, after: first.next! });
    expect(second.conversations.map((c) => c.id)).toEqual(['c%', 'd']);
    const third = await listConversations(store, { limit: 2, after: second.next! });
    expect(third).toEqual({ conversations: [expect.objectContaining({ id: 'e' })] });
    expect((await listConversations(store, { phase: 'active' })).conversations.map((c) => c.id)).toEqual(['a', 'c%', 'e']);
    expect((await listConversations(store, { phase: 'created' })).conversations.map((c) => c.id)).toEqual(['b/slash', 'd']);
    await expect(listConversations(store, { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(listConversations(store, { phase: 'gone' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

/** Records every stream read, to prove listing never touches a journal. */
class ReadRecordingStore extends ForwardingStore {
  readonly streamsRead = new Set<string>();

  override async readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    this.streamsRead.add(stream);
    return super.readFrom(stream, fromSeq, limit);
  }
}

describe('conversation index at scale (MemoryStore)', () => {
  const total = Number(process.env['LIMINAL_INDEX_CONVERSATIONS'] ?? 10_000);

  it(`pages through ${total.toLocaleString('en-US')} conversations reading no journal`, { timeout: 600_000 }, async () => {
    const inner = new MemoryStore();
    for (let i = 0; i < total; i++) {
      const id = `conv-${String(i).padStart(6, '0')}`;
      const conversation = DurableConversation.create(inner, id, { index: true, now: () => i });
      await conversation.recordLifecycle({ kind: 'conversationCreated', version: '1', createdAt: i });
      if (i % 10 === 0) await conversation.recordLifecycle({ kind: 'phaseChanged', phase: 'failed', at: i, failure: 'timeout' });
    }
    const store = new ReadRecordingStore(inner);
    let seen = 0;
    let after: string | undefined;
    for (;;) {
      const page = await listConversations(store, { limit: 1000, ...(after === undefined ? {} : { after }) });
      seen += page.conversations.length;
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(seen).toBe(total);
    const failed = await listConversations(store, { phase: 'failed', limit: 1000 });
    expect(failed.conversations.length).toBe(Math.min(1000, total / 10));
    expect(failed.conversations.every((c) => c.phase === 'failed' && c.failure?.reason === 'timeout')).toBe(true);
    expect([...store.streamsRead].filter((stream) => stream.startsWith('conv-'))).toEqual([]);
  });
});
