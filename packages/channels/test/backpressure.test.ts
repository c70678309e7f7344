import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BackpressureError, type ChannelHandle, ChannelRegistry, type OverflowPolicy, type SubscribeOptions } from '../src/index.js';
import { eventually, gate } from './support.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

/** Settles without throwing, recording how. */
function outcome<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const box: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(box, { state: 'resolved', value }),
    (error: unknown) => Object.assign(box, { state: 'rejected', error }),
  );
  return box;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A subscriber that records each message it starts and then waits until `hold` opens. */
function slowSubscriber(channel: ChannelHandle<number>, options: SubscribeOptions<number>) {
  const hold = gate();
  const started: number[] = [];
  channel.subscribe(async (d) => {
    started.push(d.message);
    await hold.promise;
  }, options);
  return { hold, started };
}

describe('backpressure', () => {
  it('accepts while in flight < capacity, then defers into the buffer: the publisher awaits until its message starts', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'bp', mode: 'ephemeral' });
    const { hold, started } = slowSubscriber(channel, { capacity: 2, buffer: 2, overflow: 'reject' });
    const accepted = [outcome(channel.publish(1)), outcome(channel.publish(2))];
    const deferred = [outcome(channel.publish(3)), outcome(channel.publish(4))];
    await tick();
    expect(accepted.map((o) => o.state)).toEqual(['resolved', 'resolved']);
    expect(deferred.map((o) => o.state)).toEqual(['pending', 'pending']);
    expect(started).toEqual([1, 2]);
    expect(channel.subscriptions()[0]).toMatchObject({ inFlight: 2, depth: 2, accepted: 2, deferred: 2 });
    hold.open();
    await eventually(() => deferred.every((o) => o.state === 'resolved'));
    expect(deferred.map((o) => o.value?.delivered)).toEqual([1, 1]);
    expect(started).toEqual([1, 2, 3, 4]);
  });

  it('reject: beyond the buffer the whole publish fails with BackpressureError, nobody gets it, and it is counted', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'bp', mode: 'ephemeral' });
    const { hold, started: slow } = slowSubscriber(channel, { name: 'slow', capacity: 1, buffer: 1, overflow: 'reject' });
    const fast: number[] = [];
    channel.subscribe((d) => void fast.push(d.message), { name: 'fast' });
    void channel.publish(1);
    void channel.publish(2);
    const refused = outcome(channel.publish(3));
    await tick();
    expect(refused.state).toBe('rejected');
    expect(refused.error).toBeInstanceOf(BackpressureError);
    expect(refused.error).toMatchObject({ code: 'BACKPRESSURE', channel: 'bp', subscribers: ['slow'] });
    expect(fast).toEqual([1, 2]);
    expect(channel.stats()).toMatchObject({ rejected: 1, published: 2 });
    expect(channel.subscriptions().find((s) => s.id === 'slow')).toMatchObject({ rejected: 1 });
    hold.open();
    await eventually(() => slow.length === 2);
    expect(slow).toEqual([1, 2]);
  });

  it('dropOldest: a full buffer evicts its oldest message, counted, and that publisher learns it was not delivered', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'bp', mode: 'ephemeral' });
    const { hold, started: seen } = slowSubscriber(channel, { capacity: 1, buffer: 2, overflow: 'dropOldest' });
    const results = [1, 2, 3, 4, 5].map((n) => outcome(channel.publish(n)));
    await tick();
    // 1 runs; 2 and 3 were buffered, then 4 and 5 evicted them.
    expect(results.slice(0, 3).map((o) => [o.state, o.value?.delivered])).toEqual([
      ['resolved', 1],
      ['resolved', 0],
      ['resolved', 0],
    ]);
    expect(channel.stats().dropped).toBe(2);
    hold.open();
    await eventually(() => seen.length === 3);
    expect(seen).toEqual([1, 4, 5]);
    expect(channel.subscriptions()[0]).toMatchObject({ dropped: 2, started: 3 });
  });

  it('block: beyond the buffer the publisher waits for room, and every message arrives in order', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'bp', mode: 'ephemeral' });
    const { hold, started: seen } = slowSubscriber(channel, { capacity: 1, buffer: 1, overflow: 'block' });
    const results = [1, 2, 3, 4].map((n) => outcome(channel.publish(n)));
    await tick();
    expect(results.map((o) => o.state)).toEqual(['resolved', 'pending', 'pending', 'pending']);
    expect(channel.stats()).toMatchObject({ deferred: 1, blocked: 2, dropped: 0, rejected: 0 });
    expect(channel.subscriptions()[0]).toMatchObject({ depth: 3 });
    hold.open();
    await eventually(() => results.every((o) => o.state === 'resolved'));
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('unsubscribing drops what was waiting in the inbox, counted, and releases the waiting publishers', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'bp', mode: 'ephemeral' });
    const hold = gate();
    const off = channel.subscribe(() => hold.promise, { capacity: 1, buffer: 4 });
    const results = [1, 2, 3].map((n) => outcome(channel.publish(n)));
    await tick();
    off();
    await eventually(() => results.every((o) => o.state === 'resolved'));
    expect(results.map((o) => o.value?.delivered)).toEqual([1, 0, 0]);
    expect(channel.stats().dropped).toBe(2);
    hold.open();
  });

  describe('a fast publisher and a slow subscriber over 100k messages', () => {
    const MESSAGES = 100_000;
    const BUFFER = 64;
    // ~1 KiB of distinct heap string per message: an unbounded buffer holding
    // 100k of them would grow the heap by ~100 MB.
    const payload = (i: number) => ({ i, body: `${i}:`.padEnd(1_000, 'x') });
    // 100k publishes take ~2 s alone and far longer on a loaded 2-core machine.
    const timeout = 180_000;

    function collectGarbage(): () => void {
      setFlagsFromString('--expose-gc');
      return runInNewContext('gc') as () => void;
    }

    async function heapGrowthWhile(run: () => Promise<void>): Promise<number> {
      const gc = collectGarbage();
      gc();
      const before = process.memoryUsage().heapUsed;
      await run();
      gc();
      return process.memoryUsage().heapUsed - before;
    }

    for (const overflow of ['dropOldest', 'reject'] as OverflowPolicy[]) {
      it(`${overflow}: the heap stays bounded and every message not delivered is counted`, async () => {
        registry = new ChannelRegistry();
        const channel = registry.create<{ i: number }>({ name: `heap-${overflow}`, mode: 'ephemeral' });
        const hold = gate();
        let handled = 0;
        channel.subscribe(
          async () => {
            handled += 1;
            await hold.promise;
          },
          { capacity: 1, buffer: BUFFER, overflow },
        );
        let refused = 0;
        let maxDepth = 0;
        const growth = await heapGrowthWhile(async () => {
          for (let i = 0; i < MESSAGES; i += 1) {
            // Not awaited: the publisher never waits for the subscriber.
            channel.publish(payload(i)).catch(() => (refused += 1));
            if (i % 1_000 === 999) {
              await tick();
              maxDepth = Math.max(maxDepth, channel.subscriptions()[0]?.depth ?? 0);
            }
          }
          await tick();
        });
        const stats = channel.stats();
        expect(growth).toBeLessThan(32 * 1024 * 1024);
        expect(maxDepth).toBeLessThanOrEqual(BUFFER);
        // Nothing silently lost: started + waiting + dropped + rejected accounts for every message.
        const lost = overflow === 'dropOldest' ? stats.dropped : stats.rejected;
        expect(stats.delivered + channel.subscriptions()[0]!.depth + lost).toBe(MESSAGES);
        if (overflow === 'reject') expect(refused).toBe(stats.rejected);
        expect(lost).toBeGreaterThan(MESSAGES - BUFFER - 2);
        hold.open();
        await eventually(() => handled === stats.delivered + BUFFER);
      }, timeout);
    }

    it('block: a publisher that awaits is held back, the heap stays bounded and all messages arrive', async () => {
      registry = new ChannelRegistry();
      const channel = registry.create<{ i: number }>({ name: 'heap-block', mode: 'ephemeral' });
      let handled = 0;
      let maxDepth = 0;
      channel.subscribe(
        async () => {
          // Slower than the publisher: a turn of the event loop per message.
          await new Promise((resolve) => setImmediate(resolve));
          handled += 1;
        },
        { capacity: 1, buffer: BUFFER, overflow: 'block' },
      );
      const growth = await heapGrowthWhile(async () => {
        const publishes: Promise<unknown>[] = [];
        for (let i = 0; i < MESSAGES; i += 1) {
          // Keeps BUFFER publishes in flight so the buffer really fills.
          publishes.push(channel.publish(payload(i)));
          if (publishes.length === BUFFER) {
            await Promise.all(publishes);
            publishes.length = 0;
            maxDepth = Math.max(maxDepth, channel.subscriptions()[0]?.depth ?? 0);
          }
        }
        await Promise.all(publishes);
        await eventually(() => handled === MESSAGES, timeout);
      });
      expect(handled).toBe(MESSAGES);
      expect(maxDepth).toBeLessThanOrEqual(BUFFER);
      expect(channel.stats()).toMatchObject({ delivered: MESSAGES, dropped: 0, rejected: 0 });
      expect(growth).toBeLessThan(32 * 1024 * 1024);
    }, timeout);
  });
});
