import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, type Delivery } from '../src/index.js';
import { ManualClock } from '@liminal/testkit';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('causal ordering', () => {
  it('holds a message until the message named by its causationId has been delivered', async () => {
    const clock = new ManualClock();
    registry = new ChannelRegistry({ clock, causalTimeoutMs: 1_000 });
    const channel = registry.create<string>({ name: 'causal', mode: 'ephemeral' });
    const seen: Delivery<string>[] = [];
    channel.subscribe((d) => void seen.push(d));
    const effect = await channel.publish('reply', { causationId: 'question-1' });
    expect(effect).toMatchObject({ held: true, delivered: 0 });
    expect(seen).toEqual([]);
    await channel.publish('question', { messageId: 'question-1' });
    await flush();
    expect(seen.map((d) => [d.message, d.orphaned, d.causationId])).toEqual([
      ['question', false, undefined],
      ['reply', false, 'question-1'],
    ]);
    expect(clock.pendingTimers).toBe(0);
    expect(channel.stats()).toMatchObject({ held: 1, orphaned: 0 });
  });

  it('delivers at once when the cause was already delivered, and releases chains in order', async () => {
    registry = new ChannelRegistry({ clock: new ManualClock() });
    const channel = registry.create<string>({ name: 'chain', mode: 'ephemeral' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    await channel.publish('c', { messageId: 'c', causationId: 'b' });
    await channel.publish('b', { messageId: 'b', causationId: 'a' });
    expect(seen).toEqual([]);
    await channel.publish('a', { messageId: 'a' });
    await channel.publish('d', { causationId: 'a' });
    await flush();
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });

  it('delivers a held message flagged orphaned once its cause has not come within the timeout', async () => {
    const clock = new ManualClock();
    registry = new ChannelRegistry({ clock });
    const channel = registry.create<string>({ name: 'orphans', mode: 'ephemeral', causalTimeoutMs: 500 });
    const seen: Delivery<string>[] = [];
    channel.subscribe((d) => void seen.push(d));
    await channel.publish('reply', { causationId: 'never-sent' });
    clock.advance(499);
    await flush();
    expect(seen).toEqual([]);
    clock.advance(1);
    await flush();
    expect(seen.map((d) => [d.message, d.orphaned, d.causationId])).toEqual([['reply', true, 'never-sent']]);
    expect(channel.stats()).toMatchObject({ held: 1, orphaned: 1, delivered: 1 });
    // The late cause no longer releases anything: the orphan was delivered once.
    await channel.publish('cause', { messageId: 'never-sent' });
    await flush();
    expect(seen.map((d) => d.message)).toEqual(['reply', 'cause']);
  });

  it('closing drops held messages, counted, and cancels their timers', async () => {
    const clock = new ManualClock();
    registry = new ChannelRegistry({ clock });
    const channel = registry.create<string>({ name: 'closing', mode: 'ephemeral' });
    await channel.publish('reply', { causationId: 'missing' });
    expect(clock.pendingTimers).toBe(1);
    await channel.close();
    expect(clock.pendingTimers).toBe(0);
    expect(channel.stats()).toMatchObject({ held: 1, dropped: 1, orphaned: 0 });
  });
});
