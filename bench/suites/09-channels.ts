import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as channels from '@liminal/channels';
import { SqliteStore } from '@liminal/store';
import { createActor, setup } from 'xstate';
import { defineSuite, pendingApi, type BenchContext, type Side, type SideSpec } from '../src/suite.js';

const BATCH = 64;
const message = { kind: 'order', total: 42 };

/** One call publishes BATCH messages concurrently and resolves when every one reached the handler. */
function channelSide(label: string, config: string, channel: channels.ChannelHandle<typeof message>): Side {
  let received = 0;
  channel.subscribe(() => void (received += 1), { buffer: BATCH });
  return {
    label,
    config,
    opsPerCall: BATCH,
    run: async () => {
      const before = received;
      await Promise.all(Array.from({ length: BATCH }, () => channel.publish(message)));
      if (received !== before + BATCH) throw new Error('a message was not delivered');
    },
  };
}

function rawXStateSide(): Side {
  let received = 0;
  const machine = setup({ types: { events: {} as { type: 'publish'; message: typeof message } } }).createMachine({
    on: { publish: { actions: () => void (received += 1) } },
  });
  const actor = createActor(machine).start();
  return {
    label: 'raw XState actor.send',
    config: 'one actor, the handler as a transition action; no buffering, no validation, no store',
    opsPerCall: BATCH,
    run: () => {
      for (let i = 0; i < BATCH; i += 1) actor.send({ type: 'publish', message });
      return received;
    },
  };
}

function eventEmitterSide(): Side {
  let received = 0;
  const emitter = new EventEmitter();
  emitter.on('message', () => void (received += 1));
  return {
    label: 'plain EventEmitter.emit',
    config: 'synchronous listener call',
    opsPerCall: BATCH,
    run: () => {
      for (let i = 0; i < BATCH; i += 1) emitter.emit('message', message);
      return received;
    },
  };
}

function api(): Partial<typeof channels> {
  return channels as Partial<typeof channels>;
}

function ephemeralSide(bench: BenchContext): SideSpec {
  const label = 'Liminal channel publish→deliver (ephemeral)';
  const { ChannelRegistry } = api();
  if (ChannelRegistry === undefined) return { label, missing: pendingApi };
  const registry = new ChannelRegistry();
  bench.cleanup(() => registry.closeAll());
  return channelSide(label, 'one subscriber, capacity 1, block policy, no schema', registry.create({ name: 'bench', mode: 'ephemeral' }));
}

function durableSide(bench: BenchContext): SideSpec {
  const label = 'Liminal channel publish→deliver (durable, SQLite)';
  const { ChannelRegistry } = api();
  if (ChannelRegistry === undefined) return { label, missing: pendingApi };
  const store = new SqliteStore(join(bench.tempDir(), 'channels.db'), { synchronous: 'NORMAL' });
  const registry = new ChannelRegistry({ store });
  bench.cleanup(async () => {
    await registry.closeAll();
    await store.close();
  });
  return channelSide(label, 'DurableChannel on SqliteStore (WAL, synchronous=NORMAL), one subscriber', registry.create({ name: 'bench', mode: 'durable' }));
}

/**
 * Reroute latency: from the moment a group member throws on a message to the
 * moment the next member starts handling that same message. A crashed member
 * leaves the group, so a fresh crashing member joins after every reroute.
 */
async function rerouteLatency(bench: BenchContext): Promise<void> {
  const { ChannelRegistry } = api();
  if (ChannelRegistry === undefined) return;
  const registry = new ChannelRegistry();
  bench.cleanup(() => registry.closeAll());
  const channel = registry.create<number>({ name: 'reroute', mode: 'ephemeral' });
  const group = channel.group('workers');
  const crashedAt = new Map<number, number>();
  const samples: number[] = [];
  const joinCrasher = () =>
    group.join((d) => {
      crashedAt.set(d.message, performance.now());
      throw new Error('member crashed');
    });
  joinCrasher();
  group.join((d) => {
    const at = crashedAt.get(d.message);
    if (at === undefined) return;
    samples.push((performance.now() - at) * 1_000);
    crashedAt.delete(d.message);
    joinCrasher();
  });
  const wanted = bench.scale(20_000, 2_000);
  for (let n = 0; samples.length < wanted; n += 1) {
    await channel.publish(n);
    await new Promise((resolve) => setImmediate(resolve));
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)] as number;
  const p99 = samples[Math.floor(samples.length * 0.99)] as number;
  bench.record({
    id: '9-channels/reroute-latency-median',
    title: 'Consumer-group reroute latency, median (member throws → next member starts the same message)',
    value: Number(median.toFixed(1)),
    unit: 'µs',
    note: `${samples.length} reroutes; p99 ${p99.toFixed(1)} µs`,
  });
}

export default defineSuite({
  title: '9. Channels: publish→deliver vs raw XState and EventEmitter, reroute latency',
  async run(bench) {
    const peers = (): Side[] => [rawXStateSide(), eventEmitterSide()];
    await bench.compare({
      id: '9-channels/ephemeral-publish-deliver',
      title: 'Publish→deliver, ephemeral channel',
      note:
        `One op = one message reaching the subscriber's handler; a call publishes ${BATCH} concurrently and awaits them all. ` +
        'The channel adds an actor-driven queue, per-subscriber bounded inbox, causal/idempotency bookkeeping, metrics and trace ids; the peers call the handler directly.',
      sides: [ephemeralSide(bench), ...peers()],
    });
    await bench.compare({
      id: '9-channels/durable-publish-deliver',
      title: 'Publish→deliver, durable channel (SQLite)',
      note: `As above, but every message is appended through DurableChannel to SQLite before delivery; the peers store nothing.`,
      sides: [durableSide(bench), ...peers()],
    });
    await rerouteLatency(bench);
  },
});
