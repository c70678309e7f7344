import { codec, DurableChannel } from '@liminal/durability';
import { MemoryStore, StoreUnavailableError, type CommitResult, type DurableStore, type WriteOp } from '@liminal/store';
import { ForwardingStore, ManualClock } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { startOrResume, type Run } from '../src/manifest.js';
import { produce } from '../src/producer.js';

async function setup(messages: number): Promise<{ store: DurableStore; run: Run; channel: DurableChannel }> {
  const store = new MemoryStore();
  const { run } = await startOrResume(store, { settings: { messages, partitions: 2, seed: 1 }, explicit: new Set(), reset: false }, async () => false);
  return { store, run, channel: new DurableChannel(store, run.names.channel, { partitions: 2 }) };
}

async function publishedKeys(store: DurableStore, channel: DurableChannel): Promise<string[]> {
  const keys: string[] = [];
  for (let p = 0; p < channel.partitions; p++) {
    for (const { payload } of await store.readFrom(channel.streamFor(p), 0, 1_000)) keys.push(codec.decodeAs(payload, 'channelMessage').key);
  }
  return keys.sort();
}

const never = new AbortController().signal;

/** Every `failEvery`-th commit is applied, then reported as lost at COMMIT; after `failures` of them the store is down. */
class LosingStore extends ForwardingStore {
  failEvery = 2;
  lost = 0;
  #commits = 0;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const result = await super.commit(ops);
    if (this.failEvery > 0 && ++this.#commits % this.failEvery === 0) {
      this.lost += 1;
      throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
    }
    return result;
  }
  override async readFrom(stream: string, fromSeq: number, limit: number) {
    // The connection stays down after a few lost commits, so the producer cannot resolve them and dies.
    if (this.lost >= 2) throw new StoreUnavailableError('connection refused', { ambiguous: false });
    return super.readFrom(stream, fromSeq, limit);
  }
}

describe('producer', () => {
  it('publishes every order once, and again-from-scratch publishes nothing new', async () => {
    const { store, run, channel } = await setup(250);
    await produce(store, channel, run, never);
    expect(await store.readValue(run.names.published)).toBe(250);
    // As if the producer had died before ever advancing its high-water mark: it republishes
    // everything, and the idempotency keys keep one copy of each order.
    await store.cas(run.names.published, 250, 0);
    await produce(store, channel, run, never);
    expect(await store.readValue(run.names.published)).toBe(250);
    const keys = await publishedKeys(store, channel);
    expect(keys).toHaveLength(250);
    expect(new Set(keys).size).toBe(250);
  });

  it('a producer whose commits are lost at COMMIT (outcome unknown) and restarted still publishes each order once', async () => {
    const inner = new MemoryStore();
    const { run } = await startOrResume(inner, { settings: { messages: 120, partitions: 2, seed: 1 }, explicit: new Set(), reset: false }, async () => false);
    const store = new LosingStore(inner);
    await expect(produce(store, new DurableChannel(store, run.names.channel, { partitions: 2 }), run, never)).rejects.toBeInstanceOf(StoreUnavailableError);
    store.failEvery = 0;
    await produce(inner, new DurableChannel(inner, run.names.channel, { partitions: 2 }), run, never);
    const keys = await publishedKeys(inner, new DurableChannel(inner, run.names.channel, { partitions: 2 }));
    expect(keys).toHaveLength(120);
    expect(new Set(keys).size).toBe(120);
    expect(store.lost).toBeGreaterThan(0);
  });

  it('with a pace, publishes at most ordersPerSecond a second of its clock, and all of them in the end', async () => {
    const { store, run, channel } = await setup(100);
    const clock = new ManualClock();
    const start = clock.now();
    const published = async () => (await publishedKeys(store, channel)).length;
    let finished = false;
    const producing = produce(store, channel, run, never, { ordersPerSecond: 40, clock }).then(() => (finished = true));
    while (!finished) {
      // Let the producer publish what is due until it waits for its clock (or ends).
      while (!finished && clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
      const elapsedS = (clock.now() - start) / 1000;
      // One batch (a tenth of a second's worth) may go at the start of each due time.
      expect(await published()).toBeLessThanOrEqual(Math.floor(40 * elapsedS) + 4);
      clock.advance(100);
    }
    await producing;
    expect(await published()).toBe(100);
    expect(clock.now() - start).toBeGreaterThanOrEqual(2_400); // 100 orders at 40/s: the last batch is due at 2.4 s
  });

  it('a paced producer stops waiting as soon as it is aborted', async () => {
    const { store, run, channel } = await setup(100);
    const clock = new ManualClock();
    const abort = new AbortController();
    const producing = produce(store, channel, run, abort.signal, { ordersPerSecond: 10, clock });
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    abort.abort();
    await producing;
    expect(await publishedKeys(store, channel)).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });
});
