import { InvalidArgumentError, MemoryStore } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, IncompatibleSchemaError, SchemaMismatchError } from '../src/index.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

const orderV1 = {
  type: 'object',
  properties: { id: { type: 'string' }, total: { type: 'number', minimum: 0 } },
  required: ['id', 'total'],
  additionalProperties: false,
};

describe('schema validation', () => {
  it("rejects an invalid message with the validator's messages; nothing is stored or delivered", async () => {
    const store = new MemoryStore();
    registry = new ChannelRegistry({ store });
    const channel = registry.create({ name: 'orders', mode: 'durable', schema: orderV1 });
    const seen: unknown[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    const error = await channel.publish({ id: 7, total: -1, extra: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchemaMismatchError);
    const mismatch = error as SchemaMismatchError;
    expect(mismatch).toMatchObject({ code: 'SCHEMA_MISMATCH', channel: 'orders' });
    expect(mismatch.errors).toEqual(
      expect.arrayContaining(['/ must NOT have additional properties', '/id must be string', '/total must be >= 0']),
    );
    expect(seen).toEqual([]);
    expect(await store.listStreams('orders')).toEqual([]);
    expect(channel.stats()).toMatchObject({ schemaRejected: 1, published: 0 });
    // A valid message afterwards goes through normally.
    expect((await channel.publish({ id: 'o-1', total: 5 })).sequence).toBe(0);
    expect(seen).toEqual([{ id: 'o-1', total: 5 }]);
  });

  it('fills declared defaults without mutating the publisher’s object', async () => {
    registry = new ChannelRegistry();
    const schema = { type: 'object', properties: { id: { type: 'string' }, priority: { type: 'string', default: 'normal' } }, required: ['id'] };
    const channel = registry.create({ name: 'defaults', mode: 'ephemeral', schema });
    const seen: unknown[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    const message = { id: 'a' };
    await channel.publish(message);
    expect(seen).toEqual([{ id: 'a', priority: 'normal' }]);
    expect(message).toEqual({ id: 'a' });
  });

  it('an added optional field with a default keeps existing subscribers, and they receive the default', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<{ id: string; total: number; currency?: string }>({ name: 'evolving', mode: 'ephemeral', schema: orderV1 });
    const seen: unknown[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    await channel.publish({ id: 'o-1', total: 1 });
    channel.evolveSchema({
      ...orderV1,
      properties: { ...orderV1.properties, currency: { type: 'string', default: 'EUR' } },
    });
    // An old publisher, unaware of the new field:
    await channel.publish({ id: 'o-2', total: 2 });
    await channel.publish({ id: 'o-3', total: 3, currency: 'USD' });
    expect(seen).toEqual([
      { id: 'o-1', total: 1 },
      { id: 'o-2', total: 2, currency: 'EUR' },
      { id: 'o-3', total: 3, currency: 'USD' },
    ]);
    expect(channel.subscriptions()).toHaveLength(1);
  });

  it('refuses an evolution that makes a field required, keeping the old schema', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'strict', mode: 'ephemeral', schema: orderV1 });
    const next = { ...orderV1, properties: { ...orderV1.properties, currency: { type: 'string' } }, required: ['id', 'total', 'currency'] };
    expect(() => channel.evolveSchema(next)).toThrow(IncompatibleSchemaError);
    expect(() => channel.evolveSchema(next)).toThrow(expect.objectContaining({ code: 'INCOMPATIBLE_SCHEMA', newlyRequired: ['currency'] }));
    expect((await channel.publish({ id: 'o', total: 1 })).delivered).toBe(0);
  });

  it('refuses a durable message that is not JSON before storing anything', async () => {
    const store = new MemoryStore();
    registry = new ChannelRegistry({ store });
    const channel = registry.create({ name: 'json-only', mode: 'durable' });
    await expect(channel.publish({ n: 1n })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(channel.publish(() => 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.listStreams('json-only')).toEqual([]);
  });
});
