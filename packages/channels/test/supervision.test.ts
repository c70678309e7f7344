import { storeKeyPrefix } from '@liminal/durability';
import { StoreUnavailableError } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, DeliveryFailedError } from '../src/index.js';
import { ManualClock } from '@liminal/testkit';
import { FlakyStore } from './support.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

/** A durable channel on a store that fails when told, with a budget of one restart per second of a manual clock. */
function oneRestartPerSecond() {
  const clock = new ManualClock();
  const store = new FlakyStore();
  registry = new ChannelRegistry({ store, clock, restart: { maxRestarts: 1, withinMs: 1_000 } });
  return { clock, store, channel: registry.create<string>({ name: 'window', mode: 'durable' }) };
}

describe('channel supervision', () => {
  it('restarts a crashed channel actor, and its subscribers keep receiving, the crashing message included', async () => {
    const store = new FlakyStore();
    registry = new ChannelRegistry({ store, restart: { maxRestarts: 3, withinMs: 10_000 } });
    const channel = registry.create<string>({ name: 'flaky', mode: 'durable' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    await channel.publish('before');
    store.failAppends(storeKeyPrefix('partition', 'flaky'), 2);
    const during = await channel.publish('during');
    const after = await channel.publish('after');
    expect(seen).toEqual(['before', 'during', 'after']);
    expect([during.sequence, after.sequence]).toEqual([1, 2]);
    expect(channel.stats()).toMatchObject({ crashes: 2, restarts: 2, published: 3 });
    expect(channel.state).toBe('open');
    expect(registry.list()[0]).toMatchObject({ name: 'flaky', subscribers: 1 });
  });

  it('fails the channel promptly with DeliveryFailedError once the restart budget is spent', async () => {
    const store = new FlakyStore();
    registry = new ChannelRegistry({ store, clock: new ManualClock(), restart: { maxRestarts: 2, withinMs: 10_000 } });
    const channel = registry.create<string>({ name: 'doomed', mode: 'durable' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    store.failAppends(storeKeyPrefix('partition', 'doomed'), Number.POSITIVE_INFINITY);
    // The manual clock never moves: nothing here can wait on time, so a hang would fail the test by its timeout.
    const first = channel.publish('first');
    const queued = channel.publish('queued');
    const error = await first.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect(error).toMatchObject({ code: 'DELIVERY_FAILED', channel: 'doomed', restarts: 2 });
    expect((error as DeliveryFailedError).cause).toBeInstanceOf(StoreUnavailableError);
    await expect(queued).rejects.toBeInstanceOf(DeliveryFailedError);
    await expect(channel.publish('later')).rejects.toBeInstanceOf(DeliveryFailedError);
    expect(() => channel.subscribe(() => undefined)).toThrow(DeliveryFailedError);
    expect(channel.state).toBe('failed');
    expect(channel.stats()).toMatchObject({ crashes: 3, restarts: 2, published: 0 });
    expect(seen).toEqual([]);
  });

  it("one channel's crashes and failure leave another channel untouched", async () => {
    const store = new FlakyStore();
    registry = new ChannelRegistry({ store, restart: { maxRestarts: 1, withinMs: 10_000 } });
    const doomed = registry.create<string>({ name: 'doomed', mode: 'durable' });
    const steady = registry.create<string>({ name: 'steady', mode: 'durable' });
    const ephemeral = registry.create<string>({ name: 'ephemeral', mode: 'ephemeral' });
    const seen: string[] = [];
    steady.subscribe((d) => void seen.push(d.message));
    ephemeral.subscribe((d) => void seen.push(d.message));
    store.failAppends(storeKeyPrefix('partition', 'doomed'), Number.POSITIVE_INFINITY);
    const failing = doomed.publish('x');
    await steady.publish('s1');
    await ephemeral.publish('e1');
    await expect(failing).rejects.toBeInstanceOf(DeliveryFailedError);
    await steady.publish('s2');
    await ephemeral.publish('e2');
    expect(seen).toEqual(['s1', 'e1', 's2', 'e2']);
    expect(steady.stats()).toMatchObject({ crashes: 0, restarts: 0 });
    expect(registry.list().map((c) => [c.name, c.state])).toEqual([
      ['doomed', 'failed'],
      ['ephemeral', 'open'],
      ['steady', 'open'],
    ]);
  });

  it('counts restarts within the policy window only, timed by the registry clock', async () => {
    const { clock, store, channel } = oneRestartPerSecond();
    store.failAppends(storeKeyPrefix('partition', 'window'), 1);
    await channel.publish('a');
    // The first restart has left the window, so one more crash is within budget.
    clock.advance(1_000);
    store.failAppends(storeKeyPrefix('partition', 'window'), 1);
    await channel.publish('b');
    expect(channel.stats()).toMatchObject({ restarts: 2, published: 2 });
    // Two crashes inside one window exceed a budget of one restart.
    store.failAppends(storeKeyPrefix('partition', 'window'), 2);
    await expect(channel.publish('c')).rejects.toBeInstanceOf(DeliveryFailedError);
  });

  it('a crash inside the window of the previous restart exceeds a budget of one', async () => {
    const { clock, store, channel } = oneRestartPerSecond();
    store.failAppends(storeKeyPrefix('partition', 'window'), 1);
    await channel.publish('a');
    clock.advance(999);
    store.failAppends(storeKeyPrefix('partition', 'window'), 1);
    await expect(channel.publish('b')).rejects.toBeInstanceOf(DeliveryFailedError);
    expect(channel.stats()).toMatchObject({ restarts: 1, crashes: 2, published: 1 });
  });
});
