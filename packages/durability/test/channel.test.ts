import { ConfigError, DecodeError, InvalidArgumentError, StoreUnavailableError, type CommitResult, type StoredEntry, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { describe, expect, it } from 'vitest';
import { codec, cursorKeyFor, DedupSweeper, DurableChannel, InvalidTraceparentError, keyHash, messageIdFor, newMessageId, partitionStreamFor } from '../src/index.js';
import { bytes, readAll, storeKinds, text, useStore } from './support/stores.js';

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Every third commit is applied and then reported lost at COMMIT; every fourth read after a loss fails too. */
class LosingStore extends ForwardingStore {
  lost = 0;
  #commits = 0;
  #reads = 0;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const result = await super.commit(ops);
    if (++this.#commits % 3 === 0) {
      this.lost += 1;
      throw new StoreUnavailableError('connection lost at COMMIT', { ambiguous: true });
    }
    return result;
  }
  override async readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    if (this.lost > 0 && ++this.#reads % 4 === 0) throw new StoreUnavailableError('connection refused', { ambiguous: false });
    return super.readFrom(stream, fromSeq, limit);
  }
}

/** Counts commits and the entries they append. */
class CommitCountingStore extends ForwardingStore {
  commits = 0;
  appendedEntries = 0;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    this.commits += 1;
    for (const op of ops) if (op.op === 'append') this.appendedEntries += op.payloads.length;
    return super.commit(ops);
  }
}

describe.each(storeKinds)('DurableChannel on $name', (kind) => {
  const open = useStore(kind);

  it('routes a key to keyHash(key) mod partitions, keeping per-key order', async () => {
    const channel = new DurableChannel(await open(), 'orders', { partitions: 3 });
    const expected = Number(BigInt(`0x${keyHash('customer-7')}`) % 3n);
    const first = await channel.publish(bytes('one'), { key: 'customer-7' });
    const second = await channel.publish(bytes('two'), { key: 'customer-7' });
    expect(first.partition).toBe(expected);
    expect(second).toMatchObject({ partition: expected, sequence: first.sequence + 1 });
    expect(first.messageId).not.toBe(second.messageId);
    for (const { messageId } of [first, second]) expect(messageId).toMatch(/^[A-Za-z0-9_-]{21}$/); // newMessageId
  });

  it('stores a message under the id its publisher chose, and refuses one chosen for an idempotent publish', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const chosen = newMessageId();
    expect(await channel.publish(bytes('x'), { key: 'k', messageId: chosen })).toMatchObject({ messageId: chosen, sequence: 0 });
    await expect(channel.publish(bytes('y'), { key: 'k', messageId: 'other', idempotencyKey: 'once' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.publish(bytes('y'), { key: 'k', messageId: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    const [envelope, ...rest] = await (await channel.consume('billing', 0)).poll(10);
    expect(rest).toEqual([]);
    expect(envelope).toMatchObject({ messageId: chosen, payload: bytes('x') });
    expect(messageIdFor('orders', 'once')).toBe(channel.messageIdFor('once'));
  });

  it('delivers envelopes with causal metadata from offset 0 for a new consumer', async () => {
    const channel = new DurableChannel(await open(), 'orders', { partitions: 1 });
    const cause = await channel.publish(bytes('placed'), { key: 'k', nowMs: 1000 });
    await channel.publish(bytes('paid'), { key: 'k', causationId: cause.messageId, traceparent, nowMs: 2000 });
    const consumer = await channel.consume('billing', 0);
    const [first, second, ...rest] = await consumer.poll(10);
    expect(rest).toEqual([]);
    expect(first).toEqual({ messageId: cause.messageId, idempotencyKey: `orders/billing/${cause.messageId}`, key: 'k', partition: 0, offset: 0, payload: bytes('placed'), publishedAt: 1000 });
    expect(second).toMatchObject({ causationId: cause.messageId, traceparent, offset: 1, publishedAt: 2000 });
    expect(consumer.position).toBe(2);
  });

  it('does not publish a repeated idempotency key twice and returns the original result', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    const original = await channel.publish(bytes('charge'), { key: 'a', idempotencyKey: 'charge-1' });
    const again = await new DurableChannel(store, 'orders', { partitions: 2 }).publish(bytes('charge'), { key: 'a', idempotencyKey: 'charge-1' });
    expect(again).toEqual(original);
    expect(await store.streamLength(channel.streamFor(original.partition))).toBe(1);
  });

  it('keeps every message when producers publish to one partition concurrently', async () => {
    const store = await open();
    const producers = [0, 1, 2].map(() => new DurableChannel(store, 'orders', { partitions: 1 }));
    const results = await Promise.all(producers.flatMap((channel, p) => [0, 1, 2].map((n) => channel.publish(bytes(`p${p}-${n}`), { key: 'k' }))));
    expect(results.map((r) => r.sequence).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const consumer = await producers[0]!.consume('audit', 0);
    expect((await consumer.poll(100)).map((e) => text(e.payload)).sort()).toEqual(
      ['p0-0', 'p0-1', 'p0-2', 'p1-0', 'p1-1', 'p1-2', 'p2-0', 'p2-1', 'p2-2'],
    );
  });

  it('publishes a concurrently repeated idempotency key once, from any number of channel instances', async () => {
    const store = await open();
    const attempts = await Promise.all(
      [0, 1, 2, 3].flatMap(() => {
        const channel = new DurableChannel(store, 'orders', { partitions: 1 });
        return [0, 1].map(() => channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'once' }));
      }),
    );
    expect(await store.streamLength(partitionStreamFor('orders', 0))).toBe(1);
    for (const result of attempts) expect(result).toEqual(attempts[0]);
    expect(attempts[0]!.messageId).toBe(new DurableChannel(store, 'orders', { partitions: 1 }).messageIdFor('once'));
  });

  it('derives the message id from the idempotency key, so a republish after a restart carries the same id', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const first = await channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'charge-1' });
    expect(first.messageId).toBe(channel.messageIdFor('charge-1'));
    expect(first.messageId).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(channel.messageIdFor('charge-2')).not.toBe(first.messageId);
    expect(new DurableChannel(store, 'payments', { partitions: 1 }).messageIdFor('charge-1')).not.toBe(first.messageId);
  });

  it('groups concurrent publishes to one partition: n publishes cost O(n) appended entries and few commits', async () => {
    const inner = await open();
    const store = new CommitCountingStore(inner);
    const channels = [0, 1].map(() => new DurableChannel(store, 'orders', { partitions: 1 }));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, n) => channels[n % 2]!.publish(bytes(`m${n}`), { key: 'k', ...(n % 3 === 0 ? { idempotencyKey: `i${n}` } : {}) })),
    );
    expect(results.map((r) => r.sequence).sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(await inner.streamLength(partitionStreamFor('orders', 0))).toBe(100);
    // Each of the two instances sends its publishes as one group; a conflicting group retries once.
    expect(store.commits).toBeLessThanOrEqual(4);
    expect(store.appendedEntries).toBeLessThanOrEqual(200 + 34 * 2);
  });

  it('publishes each key once through a store that loses commits at COMMIT (applied, outcome unknown)', async () => {
    const inner = await open();
    const store = new LosingStore(inner);
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    const keys = Array.from({ length: 30 }, (_, n) => `order-${n}`);
    // Every publish is retried until it succeeds, as a producer would after an unknown outcome.
    const publishOnce = async (key: string) => {
      for (;;) {
        try {
          return await channel.publish(bytes(key), { key, idempotencyKey: key });
        } catch (error) {
          if (!(error instanceof StoreUnavailableError)) throw error;
        }
      }
    };
    const first = [];
    for (const key of keys) first.push(await publishOnce(key)); // one commit each, so some of them are lost
    const again = await Promise.all(keys.map(publishOnce));
    expect(again).toEqual(first);
    expect(store.lost).toBeGreaterThan(0);
    const stored = (await readAll(inner, channel.streamFor(0))).concat(await readAll(inner, channel.streamFor(1)));
    expect(stored.map((entry) => text(codec.decodeAs(entry.payload, 'channelMessage').payload)).sort()).toEqual([...keys].sort());
  });

  it('publishes a repeated idempotency key again once the dedup window has been swept', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const first = await channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'charge-1', nowMs: 0 });
    expect(await new DedupSweeper(channel.publishDedup, 100).sweep(50)).toMatchObject({ removed: 0 });
    expect(await channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'charge-1', nowMs: 50 })).toEqual(first);
    expect(await new DedupSweeper(channel.publishDedup, 100).sweep(1000)).toMatchObject({ removed: 1 });
    const second = await channel.publish(bytes('x'), { key: 'k', idempotencyKey: 'charge-1', nowMs: 1000 });
    expect(second.sequence).toBe(first.sequence + 1);
    expect(await store.streamLength(partitionStreamFor('orders', 0))).toBe(2);
  });

  it('resumes a consumer from its committed offset after a restart', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    for (const n of [0, 1, 2, 3]) await channel.publish(bytes(`m${n}`), { key: 'k' });
    const first = await channel.consume('billing', 0);
    const [m0, m1] = await first.poll(2);
    await first.commit(m0!);
    await first.commit(m1!);
    const restarted = await channel.consume('billing', 0);
    expect(restarted.cursor.currentOffset).toBe(2);
    expect((await restarted.poll(10)).map((e) => text(e.payload))).toEqual(['m2', 'm3']);
  });

  it('redelivers uncommitted messages but processOnce skips those already processed', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    for (const n of [0, 1, 2]) await channel.publish(bytes(`m${n}`), { key: 'k' });
    const handled: string[] = [];
    const handler = async (e: { payload: Uint8Array }) => {
      handled.push(text(e.payload));
      return bytes(`done ${text(e.payload)}`);
    };
    const before = await channel.consume('billing', 0, { checkpoint: { kind: 'explicitFlush' } });
    for await (const envelope of before) await before.processOnce(envelope, handler);
    // crash: the explicit flush never happened, so everything is redelivered
    const after = await channel.consume('billing', 0, { checkpoint: { kind: 'explicitFlush' } });
    const outcomes = [];
    for await (const envelope of after) outcomes.push(await after.processOnce(envelope, handler));
    await after.flush();
    expect(handled).toEqual(['m0', 'm1', 'm2']);
    expect(outcomes.map((o) => [o.kind, o.kind === 'inFlight' ? '' : text(o.receipt)])).toEqual([
      ['duplicate', 'done m0'],
      ['duplicate', 'done m1'],
      ['duplicate', 'done m2'],
    ]);
    expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBe(3);
  });

  it('rewinds to a message whose handler failed, so the next poll delivers it again', async () => {
    const channel = new DurableChannel(await open(), 'orders', { partitions: 1 });
    for (const n of [0, 1]) await channel.publish(bytes(`m${n}`), { key: 'k' });
    const consumer = await channel.consume('billing', 0);
    const [m0] = await consumer.poll(2);
    await expect(consumer.processOnce(m0!, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(consumer.position).toBe(0);
    const [again] = await consumer.poll(1);
    expect(again?.messageId).toBe(m0!.messageId);
    expect(await consumer.processOnce(again!, () => bytes('ok'))).toEqual({ kind: 'processed', receipt: bytes('ok') });
    expect(consumer.cursor.currentOffset).toBe(1);
  });

  it('takes over a claim left by a run that crashed inside the handler once its lease ran out', async () => {
    let now = 1_000;
    const channel = new DurableChannel(await open(), 'orders', { partitions: 1 });
    await channel.publish(bytes('m0'), { key: 'k' });
    const crashed = await channel.consume('billing', 0, { owner: 'worker-a', leaseMs: 500, clock: () => now });
    const [m0] = await crashed.poll(1);
    await crashed.processed.claimOrGet(m0!.messageId, now, { owner: 'worker-a', leaseMs: 500 }); // claimed, then the process died
    const restarted = await channel.consume('billing', 0, { owner: 'worker-b', leaseMs: 500, clock: () => now });
    const [again] = await restarted.poll(1);
    expect(await restarted.processOnce(again!, () => bytes('ok'))).toEqual({ kind: 'inFlight', owner: 'worker-a', expiresAtMs: 1_500 });
    expect(restarted.position).toBe(0);
    now = 1_500;
    expect((await restarted.processOnce(again!, () => bytes('ok'))).kind).toBe('processed');
  });

  it('lets a restarted process with the same owner take its own claims over at once', async () => {
    const channel = new DurableChannel(await open(), 'orders', { partitions: 1 });
    await channel.publish(bytes('m0'), { key: 'k' });
    const crashed = await channel.consume('billing', 0, { owner: 'worker-a' });
    const [m0] = await crashed.poll(1);
    await crashed.processed.claimOrGet(m0!.messageId, Date.now(), { owner: 'worker-a', leaseMs: 60_000 });
    const restarted = await channel.consume('billing', 0, { owner: 'worker-a' });
    const [again] = await restarted.poll(1);
    expect((await restarted.processOnce(again!, () => bytes('ok'))).kind).toBe('processed');
  });

  it('rejects a corrupt partition entry with DecodeError and stays before it', async () => {
    const store = await open();
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    await channel.publish(bytes('good'), { key: 'k' });
    await store.append(channel.streamFor(0), Uint8Array.of(0x4c, 0x01, 0x30, 0xff), 1);
    const before = await readAll(store, channel.streamFor(0));
    const consumer = await channel.consume('billing', 0);
    const [good] = await consumer.poll(1);
    expect(text(good!.payload)).toBe('good');
    await expect(consumer.poll(1)).rejects.toBeInstanceOf(DecodeError);
    expect(consumer.position).toBe(1);
    expect(await readAll(store, channel.streamFor(0))).toEqual(before);
  });

  it('rejects bad configuration and arguments before writing anything', async () => {
    const store = await open();
    expect(() => new DurableChannel(store, 'orders', { partitions: 0 })).toThrow(ConfigError);
    expect(() => new DurableChannel(store, 'orders', { partitions: 1.5 })).toThrow(ConfigError);
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    await expect(channel.publish(bytes('x'), { key: 'k', traceparent: 'nope' })).rejects.toBeInstanceOf(InvalidArgumentError);
    // The same parser as channels and conversations: a well-shaped header with an all-zero trace id is refused too.
    const zeroTrace = `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`;
    await expect(channel.publish(bytes('x'), { key: 'k', traceparent: zeroTrace })).rejects.toBeInstanceOf(InvalidTraceparentError);
    await expect(channel.publish('x' as unknown as Uint8Array, { key: 'k' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.consume('billing', 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.consume('billing', 0, { checkpoint: { kind: 'perBatch', size: 0 } })).rejects.toBeInstanceOf(ConfigError);
    await expect(channel.consume('billing', 0, null as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(channel.consume('', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.consume('billing', 0, { batchSize: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.consume('billing', 0, { owner: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const leaseMs of [0, -1, 2.5]) await expect(channel.consume('billing', 0, { leaseMs })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.consume('billing', 0, { clock: 5 as never })).rejects.toBeInstanceOf(ConfigError);
    const badOptions = [
      undefined,
      { key: 5 },
      { key: 'k', idempotencyKey: '' },
      { key: 'k', nowMs: -1 },
      { key: 'k', causationId: 7 },
      { key: 'lone \uD800' },
      { key: 'k', idempotencyKey: 'ok', nowMs: 1.5 },
    ];
    for (const options of badOptions) {
      await expect(channel.publish(bytes('x'), options as never), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await store.listStreams('')).toEqual([]);
  });

  it('rejects a handler that is not a function without claiming the message', async () => {
    const channel = new DurableChannel(await open(), 'orders', { partitions: 1 });
    await channel.publish(bytes('m0'), { key: 'k' });
    const consumer = await channel.consume('billing', 0);
    const [m0] = await consumer.poll(1);
    await expect(consumer.processOnce(m0!, 'charge' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await consumer.processed.lookup(m0!.messageId)).toBeUndefined();
    expect(consumer.cursor.currentOffset).toBe(0);
  });
});
