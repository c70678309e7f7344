import { partitionStreamFor } from '@liminal/durability';
import { ConfigError, InvalidArgumentError } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelClosedError, ChannelExistsError, ChannelNotFoundError, ChannelRegistry, type Delivery } from '../src/index.js';
import { eventually, FlakyStore } from './support.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

describe('ChannelRegistry', () => {
  it('refuses a second channel with a live name, and frees the name on close', async () => {
    registry = new ChannelRegistry();
    const first = registry.create({ name: 'orders', mode: 'ephemeral' });
    expect(() => registry.create({ name: 'orders', mode: 'ephemeral' })).toThrow(ChannelExistsError);
    expect(registry.lookup('orders')).toBe(first);
    await registry.close('orders');
    expect(registry.lookup('orders')).toBeUndefined();
    const second = registry.create({ name: 'orders', mode: 'ephemeral' });
    expect(second).not.toBe(first);
  });

  it('lists channels sorted by name with their live subscriber counts', () => {
    registry = new ChannelRegistry();
    const b = registry.create({ name: 'b', mode: 'ephemeral' });
    registry.create({ name: 'a', mode: 'ephemeral' });
    const c = registry.create({ name: 'c', mode: 'ephemeral' });
    const off = b.subscribe(() => undefined);
    b.subscribe(() => undefined);
    const group = c.group('workers');
    group.join(() => undefined);
    group.join(() => undefined);
    group.join(() => undefined);
    off();
    expect(registry.list()).toEqual([
      { name: 'a', mode: 'ephemeral', state: 'open', subscribers: 0 },
      { name: 'b', mode: 'ephemeral', state: 'open', subscribers: 1 },
      { name: 'c', mode: 'ephemeral', state: 'open', subscribers: 3 },
    ]);
  });

  it('refuses bad registry options with typed errors', () => {
    registry = new ChannelRegistry();
    expect(() => new ChannelRegistry({ clock: { now: () => 0 } as never })).toThrow(ConfigError);
    expect(() => new ChannelRegistry({ restart: { maxRestarts: 1, withinMs: 0 } })).toThrow(InvalidArgumentError);
    expect(() => new ChannelRegistry({ causalTimeoutMs: -5 })).toThrow(InvalidArgumentError);
  });

  it('closing an unknown channel is a typed error', async () => {
    registry = new ChannelRegistry();
    await expect(registry.close('nope')).rejects.toBeInstanceOf(ChannelNotFoundError);
  });

  it('refuses a durable channel without a store, and bad configuration, before creating anything', () => {
    registry = new ChannelRegistry();
    expect(() => registry.create({ name: 'd', mode: 'durable' })).toThrow(ConfigError);
    expect(() => registry.create({ name: '', mode: 'ephemeral' })).toThrow(InvalidArgumentError);
    expect(() => registry.create({ name: 'x', mode: 'eventual' as 'ephemeral' })).toThrow(InvalidArgumentError);
    expect(() => registry.create({ name: 'x', mode: 'ephemeral', partitions: 0 })).toThrow(InvalidArgumentError);
    expect(() => registry.create({ name: 'x', mode: 'ephemeral', restart: { maxRestarts: -1, withinMs: 10 } })).toThrow(InvalidArgumentError);
    expect(() => registry.create({ name: 'x', mode: 'ephemeral', schema: { type: 'nonsense' } })).toThrow(ConfigError);
    expect(registry.list()).toEqual([]);
  });
});

describe('ChannelHandle', () => {
  it('delivers a published message to every subscriber with its coordinates', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<{ n: number }>({ name: 'numbers', mode: 'ephemeral' });
    const a: Delivery<{ n: number }>[] = [];
    const b: Delivery<{ n: number }>[] = [];
    channel.subscribe((d) => void a.push(d));
    channel.subscribe((d) => void b.push(d));
    const result = await channel.publish({ n: 1 });
    expect(result).toEqual({ messageId: expect.any(String), partition: 0, delivered: 2, held: false, duplicate: false });
    expect(result).not.toHaveProperty('sequence');
    expect(a.map((d) => d.message)).toEqual([{ n: 1 }]);
    expect(a[0]).toMatchObject({ channel: 'numbers', messageId: result.messageId, partition: 0, orphaned: false });
    expect(b.map((d) => d.messageId)).toEqual([result.messageId]);
  });

  it('keeps publish order for a subscriber', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'seq', mode: 'ephemeral' });
    const seen: number[] = [];
    channel.subscribe(async (d) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(d.message);
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => channel.publish(i)));
    await eventually(() => seen.length === 50);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('maps a key to one partition and spreads unkeyed messages round robin', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'parts', mode: 'ephemeral', partitions: 4 });
    const keyed = await Promise.all(Array.from({ length: 5 }, () => channel.publish('m', { key: 'customer-7' })));
    expect(new Set(keyed.map((r) => r.partition)).size).toBe(1);
    const unkeyed = await Promise.all(Array.from({ length: 4 }, () => channel.publish('m')));
    expect(unkeyed.map((r) => r.partition).sort()).toEqual([0, 1, 2, 3]);
  });

  it('acknowledges a repeated idempotency key without delivering again', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'idem', mode: 'ephemeral' });
    const seen: unknown[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    const first = await channel.publish('charge', { idempotencyKey: 'k1' });
    const again = await channel.publish('charge', { idempotencyKey: 'k1' });
    expect(again).toEqual({ messageId: first.messageId, partition: first.partition, delivered: 0, held: false, duplicate: true });
    expect(seen).toEqual(['charge']);
    expect(channel.stats().duplicates).toBe(1);
  });

  it('routes by filter predicates', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<{ kind: string; total: number }>({ name: 'routed', mode: 'ephemeral' });
    const big: number[] = [];
    channel.subscribe((d) => void big.push(d.message.total), { filter: { op: 'gte', path: 'total', value: 100 } });
    const results = [await channel.publish({ kind: 'order', total: 5 }), await channel.publish({ kind: 'order', total: 500 })];
    expect(big).toEqual([500]);
    expect(results.map((r) => r.delivered)).toEqual([0, 1]);
  });

  it('stops delivering after unsubscribe', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'unsub', mode: 'ephemeral' });
    const seen: unknown[] = [];
    const off = channel.subscribe((d) => void seen.push(d.message));
    await channel.publish(1);
    off();
    off();
    expect((await channel.publish(2)).delivered).toBe(0);
    expect(seen).toEqual([1]);
  });

  it('keeps a subscription whose handler throws, counting and reporting the error', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'throws', mode: 'ephemeral' });
    const errors: unknown[] = [];
    const seen: number[] = [];
    channel.subscribe(
      (d) => {
        if (d.message === 1) throw new Error('bad one');
        seen.push(d.message);
      },
      { onError: (error) => errors.push(error) },
    );
    await channel.publish(1);
    await channel.publish(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([2]);
    expect(errors).toHaveLength(1);
    expect(channel.stats().handlerErrors).toBe(1);
    expect(channel.state).toBe('open');
  });

  it('is closed for good: later publish and subscribe fail with ChannelClosedError', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'sticky', mode: 'ephemeral' });
    await channel.close();
    await channel.close();
    expect(channel.state).toBe('closed');
    await expect(channel.publish('late')).rejects.toBeInstanceOf(ChannelClosedError);
    expect(() => channel.subscribe(() => undefined)).toThrow(ChannelClosedError);
    expect(() => channel.group('g')).toThrow(ChannelClosedError);
  });

  it('closing lets the message being stored finish and rejects the ones still queued', async () => {
    const store = new FlakyStore();
    registry = new ChannelRegistry({ store });
    const channel = registry.create<string>({ name: 'closing', mode: 'durable' });
    const resume = store.pauseAppends();
    const writing = channel.publish('being stored');
    const queued = [channel.publish('queued 1'), channel.publish('queued 2')];
    await eventually(() => store.waitingAppends === 1);
    const closing = channel.close();
    resume();
    await closing;
    expect((await writing).sequence).toBe(0);
    for (const publish of queued) await expect(publish).rejects.toBeInstanceOf(ChannelClosedError);
    expect(await store.streamLength(partitionStreamFor('closing', 0))).toBe(1);
    expect(registry.lookup('closing')).toBeUndefined();
  });

  it('rejects bad subscribe and publish options with typed errors', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'opts', mode: 'ephemeral' });
    expect(() => channel.subscribe(() => undefined, { capacity: 0 })).toThrow(InvalidArgumentError);
    expect(() => channel.subscribe(() => undefined, { buffer: -1 })).toThrow(InvalidArgumentError);
    expect(() => channel.subscribe(() => undefined, { overflow: 'spill' as 'block' })).toThrow(InvalidArgumentError);
    expect(() => channel.subscribe(() => undefined, { filter: { op: 'eq', path: '', value: 1 } })).toThrow(InvalidArgumentError);
    expect(() => channel.subscribe('not a function' as never)).toThrow(InvalidArgumentError);
    expect(() => channel.subscribe(() => undefined, { onError: 5 as never })).toThrow(InvalidArgumentError);
    expect(() => channel.group('')).toThrow(InvalidArgumentError);
    expect(() => channel.group('g').join(undefined as never)).toThrow(InvalidArgumentError);
    expect(channel.group('g').liveMembers).toBe(0);
    await expect(channel.publish(1, { key: 7 as unknown as string })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(channel.subscriptions().map((s) => s.id)).toEqual(['group:g']);
  });
});
