import { listConversations, readConversationSummary } from '@liminal/durability';
import { type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { availableStoreKinds, ForwardingStore } from '@liminal/testkit';
import { fromPromise } from 'xstate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cancelConversation,
  ConcurrentChangeError,
  ConversationActionRefusedError,
  openConversation,
  participant,
  readConversationTimeline,
  retryConversation,
  type ParticipantInput,
} from '../src/index.js';

const kinds = await availableStoreKinds();
const t0 = Date.parse('2026-01-01T00:00:00Z');

/** Runs `before` once, right before the next commit goes through: another writer landing between an action's read and its commit. */
class InterleavingStore extends ForwardingStore {
  before: (() => Promise<void>) | undefined;

  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const before = this.before;
    this.before = undefined;
    await before?.();
    return super.commit(ops);
  }
}

describe.each(kinds)('retry and cancel a durable conversation ($name)', (kind) => {
  let inner: DurableStore;
  let store: InterleavingStore;
  let charges: number;
  let reserves: number;
  let chargeWorks: boolean;

  beforeEach(async () => {
    inner = await kind.open();
    store = new InterleavingStore(inner);
    charges = 0;
    reserves = 0;
    chargeWorks = false;
  });
  afterEach(async () => {
    await inner.close();
  });

  // A payment provider that is down until the operator has fixed it.
  const billing = participant(
    'billing',
    fromPromise<string, ParticipantInput<string>>(async ({ input: { steps } }) => {
      await steps.step('reserve', () => ++reserves);
      const charged = await steps.step('charge', () => {
        charges += 1;
        if (!chargeWorks) throw new Error('provider down');
        return 'ch_1';
      });
      return `paid ${charged}`;
    }),
  );
  const options = () => ({ id: 'order-1', mode: 'durable', store, onCrash: 'fail', participants: [billing], now: () => t0 }) as const;

  /** The reply reaches the asker before the journal has it all: wait for the last record of a turn, the log entry of the reply received. */
  async function settled(): Promise<void> {
    const last = async () => {
      const entry = (await readConversationTimeline(store, 'order-1'))?.entries.at(-1);
      return entry?.kind === 'logged' && entry.entry.kind === 'json' ? (entry.entry.value as { kind?: unknown }).kind : entry?.kind;
    };
    await expect.poll(last, { timeout: 30_000 }).toBe('received');
  }

  async function failedOrder(): Promise<void> {
    const handle = await openConversation(options());
    await expect(handle.ask('order', { timeoutMs: 10_000, messageId: 'm1' })).rejects.toMatchObject({ reason: 'participantCrashed' });
    // The failure is journaled right after the ask learns of it.
    await expect.poll(async () => (await readConversationSummary(store, 'order-1'))?.phase, { timeout: 30_000 }).toBe('failed');
  }

  it('retry: a failed conversation goes back to active in one commit, and its message resumes from its last step and finishes', async () => {
    await failedOrder();
    expect({ reserves, charges }).toEqual({ reserves: 1, charges: 1 });
    const result = await retryConversation(store, 'order-1', { now: () => t0 + 60_000 });
    expect(result).toMatchObject({ id: 'order-1', from: 'failed', to: 'active' });
    const summary = await readConversationSummary(store, 'order-1');
    expect(summary).toMatchObject({ phase: 'active', failure: undefined, lastActivityAt: t0 + 60_000 });
    expect((await listConversations(store, { phase: 'failed' })).conversations).toEqual([]);

    // The worker that takes it up again: the same message id resumes after the recorded step.
    chargeWorks = true;
    const handle = await openConversation(options());
    expect(handle.getState().phase).toBe('active');
    expect((await handle.ask('order', { timeoutMs: 10_000, messageId: 'm1' })).message.payload).toBe('paid ch_1');
    expect({ reserves, charges }).toEqual({ reserves: 1, charges: 2 });
    await handle.close();
    expect((await readConversationSummary(store, 'order-1'))?.phase).toBe('closed');
  });

  it('retry refuses what is not failed, and an unknown id; nothing is written', async () => {
    const handle = await openConversation(options());
    chargeWorks = true;
    await handle.ask('order', { timeoutMs: 10_000, messageId: 'm1' });
    await settled();
    const length = await store.streamLength('order-1');
    await expect(retryConversation(store, 'order-1')).rejects.toMatchObject({ code: 'ACTION_REFUSED', refusal: 'notFailed' });
    await expect(retryConversation(store, 'nobody')).rejects.toBeInstanceOf(ConversationActionRefusedError);
    expect(await store.streamLength('order-1')).toBe(length);
    expect(await store.streamLength('nobody')).toBe(0);
    await handle.close();
  });

  it('retry racing a writer: the commit is conditional on what was read, so it fails with ConcurrentChangeError and writes nothing', async () => {
    await failedOrder();
    const before = await store.streamLength('order-1');
    // Between this retry's read and its commit, another operator's retry lands.
    store.before = async () => {
      await retryConversation(inner, 'order-1', { now: () => t0 + 1 });
    };
    await expect(retryConversation(store, 'order-1', { now: () => t0 + 2 })).rejects.toBeInstanceOf(ConcurrentChangeError);
    // Only the other writer's retry landed: one phaseChanged, and the index agrees with the journal.
    expect(await store.streamLength('order-1')).toBe(before + 1);
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'active', lastActivityAt: t0 + 1 });
  });

  it('cancel: a live conversation fails as requested (cancelled); the worker still holding it is fenced and cannot write over it', async () => {
    chargeWorks = true;
    const worker = await openConversation(options());
    await worker.ask('order', { timeoutMs: 10_000, messageId: 'm1' });
    await settled();
    expect(await cancelConversation(store, 'order-1', { now: () => t0 + 5 })).toMatchObject({ from: 'active', to: 'failed' });
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'failed', failure: { reason: 'requested', cause: 'cancelled' } });
    const length = await store.streamLength('order-1');
    // The worker's next message cannot be journaled after the cancel: its append expects the old length.
    await expect(worker.ask('order', { timeoutMs: 10_000, messageId: 'm2' })).rejects.toThrow();
    expect(await store.streamLength('order-1')).toBe(length);
    const reopened = await openConversation(options());
    expect(reopened.getState()).toMatchObject({ phase: 'failed', failure: { reason: 'requested', cause: 'cancelled' } });
    await expect(cancelConversation(store, 'order-1')).rejects.toMatchObject({ refusal: 'alreadyEnded' });
  });

  it('cancel racing a writer fails with ConcurrentChangeError and writes nothing', async () => {
    chargeWorks = true;
    const worker = await openConversation(options());
    await worker.ask('order', { timeoutMs: 10_000, messageId: 'm1' });
    await settled();
    const before = await store.streamLength('order-1');
    store.before = async () => {
      await worker.ask('order', { timeoutMs: 10_000, messageId: 'm2' });
    };
    await expect(cancelConversation(store, 'order-1')).rejects.toBeInstanceOf(ConcurrentChangeError);
    expect(await readConversationSummary(store, 'order-1')).toMatchObject({ phase: 'active' });
    expect(await store.streamLength('order-1')).toBeGreaterThan(before);
    await worker.close();
    expect((await readConversationSummary(store, 'order-1'))?.phase).toBe('closed');
  });
});
