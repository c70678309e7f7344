import { DedupCache } from '@liminal/durability';
import { InvalidArgumentError, MemoryStore } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';
import { assign, emit, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createDurableActor, durableParticipant, openConversation, PARTICIPANT_REPLY } from '../../src/index.js';

const tally = setup({ types: { context: {} as { n: number; seen: string[] } } }).createMachine({
  id: 'tally',
  context: { n: 0, seen: [] },
  on: {
    add: {
      actions: assign({
        n: ({ context, event }) => context.n + (event as unknown as { by: number }).by,
        seen: ({ context, event }) => [...context.seen, (event as unknown as { tag: string }).tag],
      }),
    },
  },
});

const kinds = await availableStoreKinds();

describe.each(kinds)('durable actor events with an idempotency key ($name)', (kind) => {
  it('an event sent again with the same key is not journaled nor applied again, in this process or after a reopen', async () => {
    const store = await kind.open();
    try {
      const actor = await createDurableActor(tally, { store, id: 'keyed' });
      expect(await actor.send({ type: 'add', by: 1, tag: 'a' } as never, { idempotencyKey: 'k1' })).toEqual({ kind: 'journaled' });
      expect(await actor.send({ type: 'add', by: 1, tag: 'a-again' } as never, { idempotencyKey: 'k1' })).toEqual({ kind: 'duplicate' });
      expect(await actor.send({ type: 'add', by: 10, tag: 'b' } as never, { idempotencyKey: 'k2' })).toEqual({ kind: 'journaled' });
      expect(await actor.send({ type: 'add', by: 100, tag: 'unkeyed' } as never)).toEqual({ kind: 'journaled' });
      expect(actor.getSnapshot().context).toEqual({ n: 111, seen: ['a', 'b', 'unkeyed'] });
      const journalLength = await store.streamLength('actor/keyed/journal');
      await actor.stop();

      const reopened = await createDurableActor(tally, { store, id: 'keyed' });
      expect(await reopened.send({ type: 'add', by: 1, tag: 'a-third' } as never, { idempotencyKey: 'k1' })).toEqual({ kind: 'duplicate' });
      expect(reopened.getSnapshot().context).toEqual({ n: 111, seen: ['a', 'b', 'unkeyed'] });
      // Only the reopen's ownership mark was added.
      expect(await store.streamLength('actor/keyed/journal')).toBe(journalLength + 1);
      // The key is an ordinary dedup receipt (what `liminal claims actor/keyed/events` lists), holding the event's journal position.
      const entry = await new DedupCache(store, 'actor/keyed/events').lookup('k1');
      expect(entry?.kind).toBe('completed');
      expect(new TextDecoder().decode((entry as { receipt: Uint8Array }).receipt)).toBe('1');
      await reopened.stop();
    } finally {
      await store.close();
    }
  });

  it('concurrent sends with one key: exactly one is journaled, whatever batch they fall in', async () => {
    const store = await kind.open();
    try {
      const actor = await createDurableActor(tally, { store, id: 'racing' });
      const sends = Array.from({ length: 20 }, (_, i) => actor.send({ type: 'add', by: 1, tag: `t${i % 4}` } as never, { idempotencyKey: `key-${i % 4}` }));
      const results = await Promise.all(sends);
      expect(results.filter((result) => result.kind === 'journaled')).toHaveLength(4);
      expect(results.filter((result) => result.kind === 'duplicate')).toHaveLength(16);
      expect(actor.getSnapshot().context.n).toBe(4);
      expect([...actor.getSnapshot().context.seen].sort()).toEqual(['t0', 't1', 't2', 't3']);
      await actor.stop();
    } finally {
      await store.close();
    }
  });
});

describe('idempotency key: bad input', () => {
  it('a key that is not a non-empty string is InvalidArgumentError and nothing is journaled', async () => {
    const store = new MemoryStore();
    const actor = await createDurableActor(tally, { store, id: 'bad' });
    const before = await store.streamLength('actor/bad/journal');
    await expect(actor.send({ type: 'add', by: 1, tag: 'x' } as never, { idempotencyKey: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(actor.send({ type: 'add', by: 1, tag: 'x' } as never, { idempotencyKey: 42 as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(actor.send({ type: 'add', by: 1, tag: 'x' } as never, null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.streamLength('actor/bad/journal')).toBe(before);
    expect(actor.getSnapshot().context.n).toBe(0);
    await actor.stop();
  });
});

describe('durableParticipant delivers a message to its actor once', () => {
  const desk = setup({ types: { context: {} as { quotes: number } } }).createMachine({
    id: 'desk',
    context: { quotes: 0 },
    on: {
      quote: { actions: [assign({ quotes: ({ context }) => context.quotes + 1 }), emit(({ context }) => ({ type: PARTICIPANT_REPLY, payload: `quote #${context.quotes}` }))] },
    },
  });

  it('a message the actor journaled before a crash (its deliver step unrecorded) is not applied again on redelivery', async () => {
    const store = new MemoryStore();
    const sales = durableParticipant('sales', desk, { store });
    // What a process that died between the actor's journal write and the conversation's step record left behind:
    // the actor journaled message m1 (keyed by the message id), the conversation has no record of it.
    const actor = await sales.actorFor('order-9');
    expect(await actor.send({ type: 'quote', messageId: 'm1' } as never, { idempotencyKey: 'm1' })).toEqual({ kind: 'journaled' });
    const conversation = await openConversation({ id: 'order-9', participants: [sales], onCrash: 'fail', mode: 'durable', store });
    // The redelivery of m1 finds the key journaled: the actor is left alone, the turn has no reply to give.
    await expect(conversation.ask({ type: 'quote' }, { messageId: 'm1', timeoutMs: 300 })).rejects.toThrow();
    expect(actor.getSnapshot().context.quotes).toBe(1);
    // A new message goes through as usual.
    expect((await conversation.ask({ type: 'quote' }, { messageId: 'm2', timeoutMs: 5000 })).message.payload).toBe('quote #2');
    expect(actor.getSnapshot().context.quotes).toBe(2);
    await conversation.close();
    await sales.close();
  });
});
