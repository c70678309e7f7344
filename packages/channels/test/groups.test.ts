import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, type Delivery, NoConsumerAvailableError, where } from '../src/index.js';
import { eventually } from './support.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

describe('consumer groups', () => {
  it('hands each message to exactly one live member, spreading the load', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'jobs', mode: 'ephemeral' });
    const group = channel.group('workers', { capacityPerMember: 1 });
    const byMember = new Map<string, number[]>();
    for (const name of ['a', 'b', 'c']) {
      byMember.set(name, []);
      group.join(
        async (d) => {
          byMember.get(name)!.push(d.message);
          await new Promise((resolve) => setImmediate(resolve));
        },
        { name },
      );
    }
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => channel.publish(i)));
    await eventually(() => [...byMember.values()].flat().length === 30);
    expect(results.every((r) => r.delivered === 1)).toBe(true);
    expect([...byMember.values()].flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const handled of byMember.values()) expect(handled.length).toBeGreaterThan(0);
  });

  it('a group and a plain subscriber each get the message once', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'mixed', mode: 'ephemeral' });
    const seen: string[] = [];
    channel.group('g').join((d) => void seen.push(`group:${d.message}`));
    channel.group('g').join((d) => void seen.push(`group:${d.message}`));
    channel.subscribe((d) => void seen.push(`sub:${d.message}`));
    const result = await channel.publish('m');
    expect(result.delivered).toBe(2);
    expect(seen.sort()).toEqual(['group:m', 'sub:m']);
  });

  it('reroutes a message to the next member when the chosen member crashes while handling it', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'reroute', mode: 'ephemeral' });
    const group = channel.group('workers');
    const handledBy: string[] = [];
    group.join(
      () => {
        handledBy.push('crashy');
        throw new Error('member crashed');
      },
      { name: 'crashy' },
    );
    group.join((d) => void handledBy.push(`steady:${d.message}`), { name: 'steady' });
    await channel.publish('m1');
    await eventually(() => handledBy.includes('steady:m1'));
    expect(handledBy).toEqual(['crashy', 'steady:m1']);
    expect(group.liveMembers).toBe(1);
    await channel.publish('m2');
    await eventually(() => handledBy.includes('steady:m2'));
    expect(handledBy).toEqual(['crashy', 'steady:m1', 'steady:m2']);
    expect(channel.stats()).toMatchObject({ reroutes: 1, handlerErrors: 1, undeliverable: 0 });
  });

  it('reports NoConsumerAvailableError when every member crashed on a message', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'none-left', mode: 'ephemeral' });
    const group = channel.group('workers');
    const lost: [NoConsumerAvailableError, Delivery<string>][] = [];
    group.onUndeliverable((error, delivery) => lost.push([error, delivery]));
    group.join(() => Promise.reject(new Error('one')));
    group.join(() => Promise.reject(new Error('two')));
    const { messageId } = await channel.publish('poison');
    await eventually(() => lost.length === 1);
    const [error, delivery] = lost[0]!;
    expect(error).toBeInstanceOf(NoConsumerAvailableError);
    expect(error).toMatchObject({ code: 'NO_CONSUMER_AVAILABLE', channel: 'none-left', group: 'workers', messageId });
    expect(delivery.message).toBe('poison');
    expect(group.liveMembers).toBe(0);
    expect(channel.stats()).toMatchObject({ undeliverable: 1, reroutes: 1, handlerErrors: 2 });
  });

  it('refuses a publish the group would receive while it has no live member: nothing is delivered', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<{ kind: string }>({ name: 'empty', mode: 'ephemeral' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message.kind));
    const group = channel.group('billing', { filter: where.eq('kind', 'invoice') });
    await expect(channel.publish({ kind: 'invoice' })).rejects.toBeInstanceOf(NoConsumerAvailableError);
    // The filter keeps the group out of messages it would not receive anyway.
    await channel.publish({ kind: 'note' });
    expect(seen).toEqual(['note']);
    const leave = group.join(() => undefined);
    expect((await channel.publish({ kind: 'invoice' })).delivered).toBe(2);
    leave();
    expect(group.liveMembers).toBe(0);
    await expect(channel.publish({ kind: 'invoice' })).rejects.toBeInstanceOf(NoConsumerAvailableError);
  });

  it('returns the same group for the same name, never confused with a subscription', () => {
    registry = new ChannelRegistry();
    const channel = registry.create({ name: 'same', mode: 'ephemeral' });
    channel.subscribe(() => undefined, { name: 'group:g' });
    const group = channel.group('g');
    expect(group.liveMembers).toBe(0);
    expect(channel.group('g')).toBe(group);
    expect(channel.group('h')).not.toBe(group);
    expect(channel.subscriptions().map((s) => [s.id, s.kind])).toEqual([
      ['group:g', 'subscriber'],
      ['group:g', 'group'],
      ['group:h', 'group'],
    ]);
  });
});
