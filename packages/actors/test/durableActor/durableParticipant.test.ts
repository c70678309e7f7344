import { MemoryStore } from '@liminal/store';
import { assign, emit, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@liminal/testkit';
import { durableParticipant, openConversation, PARTICIPANT_REPLY } from '../../src/index.js';

// A sales desk that remembers the conversation: a quote, then a decision, with a decision window.
const desk = setup({ types: { context: {} as { quotes: number; item: string | null } } }).createMachine({
  id: 'desk',
  initial: 'idle',
  context: { quotes: 0, item: null },
  states: {
    idle: {
      on: {
        quote: {
          target: 'quoted',
          actions: [
            assign({ quotes: ({ context }) => context.quotes + 1, item: ({ event }) => (event as unknown as { item: string }).item }),
            emit(({ context }) => ({ type: PARTICIPANT_REPLY, payload: `quote #${context.quotes} for ${context.item}: 40` })),
          ],
        },
      },
    },
    quoted: {
      after: { 60_000: { target: 'idle', actions: emit({ type: 'expired' }) } },
      on: { accept: { target: 'idle', actions: emit(({ context }) => ({ type: PARTICIPANT_REPLY, payload: `invoice for ${context.item}` })) } },
    },
  },
});

describe('a durable actor as a conversation participant', () => {
  it('receives every message of the conversation (one actor, not one per message) and keeps its state across a restart', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const sales = durableParticipant('sales', desk, { store, clock });
    const conversation = await openConversation({ id: 'order-7', participants: [sales], onCrash: 'fail', mode: 'ephemeral' });
    expect((await conversation.ask({ type: 'quote', item: 'lamp' }, 1000)).message.payload).toBe('quote #1 for lamp: 40');
    expect((await conversation.ask({ type: 'accept' }, 1000)).message.payload).toBe('invoice for lamp');
    const actor = await sales.actorFor('order-7');
    expect(actor.getSnapshot().context).toEqual({ quotes: 1, item: 'lamp' });
    expect((await conversation.ask({ type: 'quote', item: 'desk' }, 1000)).message.payload).toBe('quote #2 for desk: 40');
    await conversation.close();
    await sales.close();

    // Another process: a new spec and conversation over the same store find the actor where it was.
    const again = durableParticipant('sales', desk, { store, clock });
    const reopened = await openConversation({ id: 'order-7', participants: [again], onCrash: 'fail', mode: 'ephemeral' });
    expect((await reopened.ask({ type: 'accept' }, 1000)).message.payload).toBe('invoice for desk');
    expect((await again.actorFor('order-7')).getSnapshot().context).toEqual({ quotes: 2, item: 'desk' });
    await reopened.close();
    await again.close();
  });

  it('in a durable conversation a message asked again is answered from the record: the actor gets it once', async () => {
    const store = new MemoryStore();
    const sales = durableParticipant('sales', desk, { store });
    const conversation = await openConversation({ id: 'order-8', participants: [sales], onCrash: 'fail', mode: 'durable', store });
    const first = await conversation.ask({ type: 'quote', item: 'book' }, { messageId: 'm1', timeoutMs: 1000 });
    const again = await conversation.ask({ type: 'quote', item: 'book' }, { messageId: 'm1', timeoutMs: 1000 });
    expect(again.message.payload).toBe(first.message.payload);
    expect((await sales.actorFor('order-8')).getSnapshot().context.quotes).toBe(1);
    await conversation.close();
    await sales.close();
  });

  it('a payload that is not an event crashes the turn with InvalidArgumentError', async () => {
    const store = new MemoryStore();
    const sales = durableParticipant('sales', desk, { store });
    const conversation = await openConversation({ id: 'bad', participants: [sales], onCrash: 'fail', mode: 'ephemeral' });
    await expect(conversation.ask('just text', 1000)).rejects.toMatchObject({ reason: 'participantCrashed' });
    expect(await store.listStreams('actor/')).toEqual([]);
    await sales.close();
  });
});
