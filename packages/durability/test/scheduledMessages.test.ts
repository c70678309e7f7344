import { InvalidArgumentError, type DurableStore } from '@liminal/store';
import { ManualClock } from '@liminal/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { codec, DurableChannel, partitionStreamFor, storeKeyPrefix, type ChannelConsumer, type GroupMember } from '../src/index.js';
import { bytes, readAll, storeKinds, text, useStore } from './support/stores.js';

/** What a consumer reads now, processed once each (cursor advanced), as payload texts. */
async function drain(consumer: ChannelConsumer): Promise<string[]> {
  const seen: string[] = [];
  for (const envelope of await consumer.poll()) {
    const outcome = await consumer.processOnce(envelope, () => undefined);
    expect(outcome.kind).toBe('processed');
    seen.push(`${text(envelope.payload)}@${envelope.offset}`);
  }
  return seen;
}

/** Every schedule entry of the channel still waiting. */
const scheduled = (store: DurableStore, channel: string) => store.listStreams(storeKeyPrefix('scheduled', channel));

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000; // only a hang guard: no outcome depends on it
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(storeKinds)('scheduled messages (publish with deliverAt) on $name', (kind) => {
  const open = useStore(kind);
  // Registered after useStore's, so it runs first (hooks unwind like a stack): members leave while their store is open.
  const members: GroupMember[] = [];
  afterEach(async () => {
    await Promise.all(members.splice(0).map((member) => member.leave()));
  });

  it('a scheduled message is invisible to poll and processOnce before deliverAt, and delivered once when due', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'reminders', { partitions: 1 });
    const result = await channel.publish(bytes('pay rent'), { key: 'flat-1', deliverAt: clock.now() + 1_000, nowMs: clock.now() });
    expect(result).toEqual({ messageId: expect.any(String), partition: 0, deliverAt: clock.now() + 1_000 });
    const consumer = await channel.consume('billing', 0, { clock: () => clock.now() });
    expect(await consumer.poll()).toEqual([]);
    expect(consumer.nextDueAt).toBe(clock.now() + 1_000);
    clock.advance(999);
    expect(await consumer.poll()).toEqual([]);
    expect(await store.streamLength(partitionStreamFor('reminders', 0))).toBe(0);
    clock.advance(1);
    const [due, ...rest] = await consumer.poll();
    expect(rest).toEqual([]);
    expect(due).toMatchObject({ messageId: result.messageId, offset: 0, key: 'flat-1' });
    expect((await consumer.processOnce(due!, () => bytes('reminded'))).kind).toBe('processed');
    expect(consumer.nextDueAt).toBeUndefined();
    expect(await scheduled(store, 'reminders')).toEqual([]);
    clock.advance(60_000);
    expect(await consumer.poll()).toEqual([]);
    expect(consumer.cursor.currentOffset).toBe(1);
  });

  it('a scheduled message holds nothing back: later due messages are processed and checkpointed past it, and once due it gets the next offset (never skipped, also after a restart)', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    await channel.publish(bytes('refund a'), { key: 'a', deliverAt: clock.now() + 5_000 });
    await channel.publish(bytes('charge b'), { key: 'b' });
    await channel.publish(bytes('charge a'), { key: 'a' });
    const first = await channel.consume('billing', 0, { clock: () => clock.now() });
    expect(await drain(first)).toEqual(['charge b@0', 'charge a@1']);
    expect(first.cursor.currentOffset).toBe(2);
    // A restarted consumer (new channel object, same store) starts at the checkpoint and still finds the scheduled message waiting.
    const restarted = await new DurableChannel(store, 'orders', { partitions: 1 }).consume('billing', 0, { clock: () => clock.now() });
    expect(restarted.cursor.currentOffset).toBe(2);
    expect(await drain(restarted)).toEqual([]);
    clock.advance(5_000);
    expect(await drain(restarted)).toEqual(['refund a@2']);
    expect(restarted.cursor.currentOffset).toBe(3);
    expect((await readAll(store, partitionStreamFor('orders', 0))).length).toBe(3);
  });

  it('delivery order is by deliverAt, ties in the order they were scheduled; an overdue message comes at the next poll', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const at = clock.now();
    await channel.publish(bytes('x'), { key: 'k', deliverAt: at + 200 });
    await channel.publish(bytes('y'), { key: 'k', deliverAt: at + 100 });
    await channel.publish(bytes('z'), { key: 'k', deliverAt: at + 100 });
    await channel.publish(bytes('overdue'), { key: 'k', deliverAt: at - 5_000 });
    const consumer = await channel.consume('billing', 0, { clock: () => clock.now() });
    expect(await drain(consumer)).toEqual(['overdue@0']);
    clock.advance(100);
    expect(await drain(consumer)).toEqual(['y@1', 'z@2']);
    clock.advance(100);
    expect(await drain(consumer)).toEqual(['x@3']);
  });

  it('more due messages than a poll reads: the rest are moved by the next polls, in order', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    for (let n = 0; n < 5; n++) await channel.publish(bytes(`m${n}`), { key: 'k', deliverAt: clock.now() + n });
    clock.advance(10);
    const consumer = await channel.consume('billing', 0, { clock: () => clock.now(), batchSize: 2 });
    expect(await drain(consumer)).toEqual(['m0@0', 'm1@1']);
    expect(consumer.nextDueAt).toBeLessThanOrEqual(clock.now());
    expect(await drain(consumer)).toEqual(['m2@2', 'm3@3']);
    expect(await drain(consumer)).toEqual(['m4@4']);
    expect(consumer.nextDueAt).toBeUndefined();
  });

  it('consumers of two groups (and two channel objects, as two processes) finding a message due at once move it once; each group gets it', async () => {
    const store = await open();
    const clock = new ManualClock();
    const one = new DurableChannel(store, 'orders', { partitions: 1 });
    const other = new DurableChannel(store, 'orders', { partitions: 1 });
    for (let n = 0; n < 20; n++) await one.publish(bytes(`m${n}`), { key: `k${n}`, deliverAt: clock.now() + 10 });
    clock.advance(10);
    const consumers = await Promise.all([
      one.consume('billing', 0, { clock: () => clock.now() }),
      one.consume('shipping', 0, { clock: () => clock.now() }),
      other.consume('audit', 0, { clock: () => clock.now() }),
      other.consume('billing', 0, { clock: () => clock.now() }),
    ]);
    await Promise.all(consumers.map((consumer) => consumer.poll(5)));
    const stored = await readAll(store, partitionStreamFor('orders', 0));
    expect(stored.length).toBeGreaterThanOrEqual(5);
    for (const consumer of consumers) while ((await consumer.poll()).length > 0);
    const all = await readAll(store, partitionStreamFor('orders', 0));
    expect(all.map(({ payload }) => text(codec.decodeAs(payload, 'channelMessage').payload)).sort()).toEqual(Array.from({ length: 20 }, (_, n) => `m${n}`).sort());
    expect(await scheduled(store, 'orders')).toEqual([]);
  });

  it('an idempotent scheduled publish is stored once; repeating it without deliverAt, or an immediate one with deliverAt, is InvalidArgumentError', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    const first = await channel.publish(bytes('remind'), { key: 'k', idempotencyKey: 'remind-1', deliverAt: clock.now() + 100 });
    const [concurrent, later] = await Promise.all([
      channel.publish(bytes('remind'), { key: 'k', idempotencyKey: 'remind-1', deliverAt: clock.now() + 999 }),
      new DurableChannel(store, 'orders', { partitions: 2 }).publish(bytes('remind'), { key: 'k', idempotencyKey: 'remind-1', deliverAt: clock.now() + 999 }),
    ]);
    expect(concurrent).toEqual(first);
    expect(later).toEqual(first);
    expect((await scheduled(store, 'orders')).length).toBe(1);
    await expect(channel.publish(bytes('remind'), { key: 'k', idempotencyKey: 'remind-1' })).rejects.toThrow(InvalidArgumentError);
    await channel.publish(bytes('now'), { key: 'k', idempotencyKey: 'now-1' });
    await expect(channel.publish(bytes('now'), { key: 'k', idempotencyKey: 'now-1', deliverAt: clock.now() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'deliverAt' });
    expect((await scheduled(store, 'orders')).length).toBe(1);
    expect(await store.streamLength(partitionStreamFor('orders', first.partition))).toBe(1);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, 1.5, -1, Number.MAX_SAFE_INTEGER + 1, '1000'])('deliverAt %s is InvalidArgumentError and stores nothing', async (deliverAt) => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    await expect(channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'x-1', deliverAt: deliverAt as number })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'deliverAt' });
    expect(await store.listStreams('')).toEqual([]);
  });

  it('a worker group member delivers a scheduled message when its wall clock reaches deliverAt: woken by its own timer, not by the fallback poll', async () => {
    const store = await open();
    const clock = new ManualClock();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const member = await channel.join('billing', { leaseMs: 60_000, heartbeatMs: 50, pollMs: 600_000, wallClock: clock });
    members.push(member);
    const seen: string[] = [];
    void member.run((envelope) => void seen.push(`${text(envelope.payload)}@${clock.now()}`));
    const at = clock.now();
    await channel.publish(bytes('later'), { key: 'a', deliverAt: at + 1_000 });
    await until(() => clock.pendingTimers === 1, 'the member to wait for the due time');
    clock.advance(999);
    // A due message wakes the member now: it reads the partition with the scheduled one 1 ms short of due.
    await channel.publish(bytes('now'), { key: 'b' });
    await until(() => seen.length === 1, 'the immediate message');
    await until(() => clock.pendingTimers === 1, 'the member to wait again');
    expect(seen).toEqual([`now@${at + 999}`]);
    clock.advance(1);
    await until(() => seen.length === 2, 'the scheduled message');
    expect(seen).toEqual([`now@${at + 999}`, `later@${at + 1_000}`]);
  });
});
