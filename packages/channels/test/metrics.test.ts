import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { openConversation, participant, type ParticipantInput } from '@liminal/actors';
import { storeKeyPrefix } from '@liminal/durability';
import { register as globalRegister } from 'prom-client';
import { fromPromise } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelMetrics, ChannelRegistry, serveMetrics } from '../src/index.js';
import { eventually, FlakyStore, gate } from './support.js';

let registry: ChannelRegistry;
afterEach(() => registry.closeAll());

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((f) => f.name === name);
  if (found === undefined) throw new Error(`metric ${name} missing from: ${families.map((f) => f.name).join(', ')}`);
  return found;
}

function value(families: MetricFamily[], name: string, labels: Record<string, string>): number {
  const sample = family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample === undefined ? 0 : Number(sample.value);
}

describe('metrics', () => {
  it('exposes per-channel counts, inbox depth, restarts, crashes, phases and step latency as parseable Prometheus text', async () => {
    const store = new FlakyStore();
    registry = new ChannelRegistry({ store });
    const orders = registry.create<{ total: number }>({
      name: 'orders',
      mode: 'durable',
      schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
    });
    const hold = gate();
    orders.subscribe(() => hold.promise, { name: 'slow', capacity: 1, buffer: 1, overflow: 'reject' });
    const first = orders.publish({ total: 1 });
    const second = orders.publish({ total: 2 });
    await first;
    await expect(orders.publish({ total: 3 })).rejects.toThrow('inbox full');
    await expect(orders.publish({ total: 'x' } as unknown as { total: number })).rejects.toThrow('schema');
    store.failAppends(storeKeyPrefix('partition', 'orders'), 1);
    hold.open();
    await second;
    await orders.publish({ total: 4 });

    const jobs = registry.create<string>({ name: 'jobs', mode: 'ephemeral' });
    const group = jobs.group('workers');
    group.join(() => {
      throw new Error('crash');
    });
    let handled = 0;
    group.join(() => void (handled += 1));
    await jobs.publish('j');
    await eventually(() => handled === 1);

    registry.telemetry.conversationPhase(undefined, 'created');
    registry.telemetry.conversationPhase(undefined, 'created');
    registry.telemetry.conversationPhase('created', 'active');
    registry.telemetry.observeStep(0.002);
    registry.telemetry.startStep()();

    const families = parsePrometheusTextFormat(await registry.metrics());
    expect(family(families, 'liminal_channel_published_total').type).toBe('COUNTER');
    expect(value(families, 'liminal_channel_published_total', { channel: 'orders' })).toBe(3);
    expect(value(families, 'liminal_channel_delivered_total', { channel: 'orders' })).toBe(3);
    expect(value(families, 'liminal_channel_deferred_total', { channel: 'orders' })).toBe(1);
    expect(value(families, 'liminal_channel_rejected_total', { channel: 'orders', reason: 'backpressure' })).toBe(1);
    expect(value(families, 'liminal_channel_rejected_total', { channel: 'orders', reason: 'schema' })).toBe(1);
    expect(value(families, 'liminal_channel_restarts_total', { channel: 'orders' })).toBe(1);
    expect(value(families, 'liminal_crashes_total', { channel: 'orders', kind: 'channel' })).toBe(1);
    expect(value(families, 'liminal_crashes_total', { channel: 'jobs', kind: 'member' })).toBe(1);
    expect(value(families, 'liminal_group_reroutes_total', { channel: 'jobs', group: 'workers' })).toBe(1);
    expect(family(families, 'liminal_channel_inbox_depth').type).toBe('GAUGE');
    expect(value(families, 'liminal_conversation_phase', { phase: 'created' })).toBe(1);
    expect(value(families, 'liminal_conversation_phase', { phase: 'active' })).toBe(1);
    const steps = family(families, 'liminal_conversation_step_duration_seconds');
    expect(steps.type).toBe('HISTOGRAM');
    expect(Number(steps.metrics[0]?.count)).toBe(2);
    expect(Number(steps.metrics[0]?.buckets?.['0.005'])).toBe(2);
  });

  it('follows a real conversation through its phases', async () => {
    registry = new ChannelRegistry();
    const echo = participant('echo', fromPromise<string, { payload: unknown }>(async ({ input }) => `echo:${String(input.payload)}`));
    const conversation = await openConversation({ participants: [echo], onCrash: 'fail', mode: 'ephemeral' });
    const stop = registry.telemetry.trackPhases(conversation.actor);
    const phases = async () => {
      const families = parsePrometheusTextFormat(await registry.metrics());
      return Object.fromEntries(['created', 'active', 'completing', 'closed'].map((phase) => [phase, value(families, 'liminal_conversation_phase', { phase })]));
    };
    expect(await phases()).toEqual({ created: 1, active: 0, completing: 0, closed: 0 });
    await conversation.ask('hi', { timeoutMs: 10_000 });
    expect(await phases()).toEqual({ created: 0, active: 1, completing: 0, closed: 0 });
    await conversation.close();
    expect(await phases()).toEqual({ created: 0, active: 0, completing: 0, closed: 1 });
    stop();
  });

  it('times the steps of a real conversation into the step latency histogram', async () => {
    registry = new ChannelRegistry();
    const worker = participant(
      'worker',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        await input.steps.step('price', () => 10);
        await input.steps.step('charge', () => 'charged');
        return 'done';
      }),
    );
    const conversation = await openConversation({ participants: [worker], onCrash: 'fail', mode: 'ephemeral', onStep: registry.telemetry.onStep });
    await conversation.ask('order-1', 10_000);
    await conversation.ask('order-2', 10_000);
    const steps = family(parsePrometheusTextFormat(await registry.metrics()), 'liminal_conversation_step_duration_seconds');
    expect(Number(steps.metrics[0]?.count)).toBe(4);
    await conversation.close();
  });

  it('reports the inbox depth at scrape time', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<number>({ name: 'deep', mode: 'ephemeral' });
    const hold = gate();
    channel.subscribe(() => hold.promise, { capacity: 1, buffer: 10 });
    for (let i = 0; i < 4; i += 1) void channel.publish(i);
    await eventually(() => channel.subscriptions()[0]?.depth === 3);
    expect(value(parsePrometheusTextFormat(await registry.metrics()), 'liminal_channel_inbox_depth', { channel: 'deep' })).toBe(3);
    hold.open();
    await eventually(() => channel.subscriptions()[0]?.depth === 0);
    expect(value(parsePrometheusTextFormat(await registry.metrics()), 'liminal_channel_inbox_depth', { channel: 'deep' })).toBe(0);
  });

  it("uses its own prom-client registry, never the global one, so registries don't collide", async () => {
    registry = new ChannelRegistry();
    const other = new ChannelRegistry();
    expect(registry.telemetry.registry).not.toBe(globalRegister);
    expect(await globalRegister.metrics()).not.toContain('liminal_');
    const shared = new ChannelMetrics({ prefix: 'app_' });
    const third = new ChannelRegistry({ metrics: shared });
    third.create({ name: 'x', mode: 'ephemeral' });
    await third.lookup('x')?.publish(1);
    expect(await shared.metrics()).toContain('app_channel_published_total{channel="x"} 1');
    await other.closeAll();
    await third.closeAll();
  });

  it('serves /metrics over HTTP on 127.0.0.1', async () => {
    registry = new ChannelRegistry();
    await registry.create({ name: 'served', mode: 'ephemeral' }).publish('m');
    const server = await serveMetrics(registry, { port: 0 });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(value(parsePrometheusTextFormat(await response.text()), 'liminal_channel_published_total', { channel: 'served' })).toBe(1);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
