import { MemoryStore, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { DurableSteps, openConversation, participant, type ParticipantInput } from '../src/index.js';

/** Records, per commit that appends to `stream`, how many events it appends there. */
class JournalCommits extends ForwardingStore {
  readonly sizes: number[] = [];
  constructor(
    inner: MemoryStore,
    readonly stream: string,
  ) {
    super(inner);
  }
  override commit(ops: readonly WriteOp[]) {
    for (const op of ops) if (op.op === 'append' && op.stream === this.stream) this.sizes.push(op.payloads.length);
    return super.commit(ops);
  }
  override appendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number) {
    if (stream === this.stream) this.sizes.push(payloads.length);
    return super.appendMany(stream, payloads, expectedSeq);
  }
  override append(stream: string, payload: Uint8Array, expectedSeq: number) {
    if (stream === this.stream) this.sizes.push(1);
    return super.append(stream, payload, expectedSeq);
  }
}

/** A participant whose one durable step waits on I/O (several event-loop turns), as a real side effect does. */
const slowStep = fromPromise<string, ParticipantInput<string>>(({ input }) =>
  input.steps.step('effect', async () => {
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    return `done:${input.payload}`;
  }),
);

it('a durable turn is three journal commits: receipt, log entry and start together; its step; its last step and end together', async () => {
  const memory = new MemoryStore();
  const store = new JournalCommits(memory, 'order');
  const handle = await openConversation({ id: 'order', mode: 'durable', store, onCrash: 'fail', participants: [participant('a', slowStep), participant('b', slowStep)] });
  expect((await handle.ask('a', { messageId: 'm1' })).message.payload).toBe('done:a');
  expect((await handle.ask('b', { messageId: 'm2' })).message.payload).toBe('done:b');
  await handle.close();
  handle.actor.stop();
  expect(store.sizes).toEqual([
    1, // conversationCreated
    4, // active, m1 received, m1 started, log: sent m1
    1, // m1's step
    2, // m1's final step (its reply), m1 finished
    4, // log: reply to m1, m2 received, m2 started, log: sent m2
    1,
    2,
    2, // log: reply to m2, completing
    1, // closed
  ]);
  // The log reads back as the same conversation.
  const reopened = await openConversation({ id: 'order', mode: 'durable', store: memory, onCrash: 'fail', participants: [participant('a', slowStep), participant('b', slowStep)] });
  expect(reopened.getState().phase).toBe('closed');
  expect(reopened.getState().log.map((entry) => entry.kind)).toEqual(['sent', 'received', 'sent', 'received']);
  reopened.actor.stop();
});

it('DurableSteps.run journals a new message in two commits: receipt and start together, then its end', async () => {
  const memory = new MemoryStore();
  const store = new JournalCommits(memory, 'partition-log');
  const steps = await DurableSteps.open(store, 'partition-log');
  expect(await steps.run('order-1', async () => 'ok')).toEqual({ kind: 'completed', value: 'ok' });
  expect(await steps.run('order-1', async () => 'again')).toEqual({ kind: 'skipped' });
  expect(store.sizes).toEqual([2, 1]);
});
