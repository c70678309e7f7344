import { randomBytes } from 'node:crypto';
import { Conversation, InvalidTraceparentError, openConversation, participant, type ParticipantInput, TraceContext } from '@liminal/actors';
import { fromPromise } from 'xstate';
import { type Context, type Span, type SpanContext, type SpanKind, type SpanOptions, trace, type Tracer } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, type Delivery } from '../src/index.js';
import { eventually } from './support.js';

let registry: ChannelRegistry;
afterEach(async () => {
  await registry.closeAll();
  trace.disable();
});

const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function parts(traceparent: string) {
  const [, traceId, spanId, flags] = traceparent.split('-');
  return { traceId, spanId, flags };
}

describe('trace context', () => {
  it('carries the publisher’s trace to every delivery as a child span', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'traced', mode: 'ephemeral' });
    const seen: Delivery<string>[] = [];
    channel.subscribe((d) => void seen.push(d));
    await channel.publish('with parent', { traceparent: parent });
    await channel.publish('without parent');
    const [child, root] = seen.map((d) => parts(d.traceparent));
    expect(child).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', flags: '01' });
    expect(child?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child?.spanId).not.toBe('b7ad6b7169203331');
    expect(root?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root?.traceId).not.toBe(child?.traceId);
  });

  it('flows publish → delivery → the steps of a conversation the handler continues', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'orders', mode: 'ephemeral' });
    const stepContexts: TraceContext[] = [];
    const billing = participant(
      'billing',
      fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
        await input.steps.step('charge', () => stepContexts.push(input.envelope.message.traceContext));
        return `charged ${input.payload}`;
      }),
    );
    const spans: Conversation[] = [];
    const replies: string[] = [];
    const deliveries: string[] = [];
    channel.subscribe(async (delivery) => {
      deliveries.push(delivery.traceparent);
      const span = Conversation.continue('billing', TraceContext.parse(delivery.traceparent));
      spans.push(span);
      const conversation = await openConversation({ span, participants: [billing], onCrash: 'fail', mode: 'ephemeral' });
      replies.push(String((await conversation.ask(delivery.message, 5_000)).message.payload));
      await conversation.close();
    });
    const published = await channel.publish('o-1', { traceparent: parent });
    expect(published.delivered).toBe(1);
    await eventually(() => replies.length === 1);
    expect(replies).toEqual(['charged o-1']);
    // One trace from the publisher to the step: same trace id, each hop a child of the one before.
    const [span] = spans;
    expect(span?.traceContext.traceId).toBe(parts(parent).traceId);
    expect(span?.parentTraceContext?.toTraceparent()).toBe(deliveries[0]);
    expect(parts(deliveries[0]!).spanId).not.toBe(parts(parent).spanId);
    expect(stepContexts.map((context) => context.traceId)).toEqual([parts(parent).traceId]);
    expect(stepContexts[0]?.equals(span!.traceContext)).toBe(true);
  });

  it('refuses an invalid traceparent with a typed error and publishes nothing', async () => {
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'bad-trace', mode: 'ephemeral' });
    const seen: string[] = [];
    channel.subscribe((d) => void seen.push(d.message));
    await expect(channel.publish('x', { traceparent: 'not-a-traceparent' })).rejects.toBeInstanceOf(InvalidTraceparentError);
    expect(seen).toEqual([]);
  });

  it('makes OpenTelemetry PRODUCER and CONSUMER spans when a tracer provider is registered', async () => {
    const spans = recordSpans();
    registry = new ChannelRegistry();
    const channel = registry.create<string>({ name: 'otel', mode: 'ephemeral' });
    const seen: Delivery<string>[] = [];
    channel.subscribe((d) => void seen.push(d), { name: 'auditor' });
    channel.subscribe(() => Promise.reject(new Error('handler failed')), { name: 'broken' });
    await channel.publish('m', { traceparent: parent });
    await eventually(() => spans.filter((s) => s.ended).length === 3);

    const publish = spans.find((s) => s.name === 'publish otel');
    const delivers = spans.filter((s) => s.name === 'deliver otel');
    expect(publish).toMatchObject({ kind: 3, parentSpanId: 'b7ad6b7169203331', traceId: '0af7651916cd43dd8448eb211c80319c' });
    // The delivery carries the publish span's context, and each handler runs under a CONSUMER child of it.
    expect(seen[0]?.traceparent).toBe(`00-${publish?.traceId}-${publish?.spanId}-01`);
    expect(delivers).toHaveLength(2);
    for (const deliver of delivers) expect(deliver).toMatchObject({ kind: 4, parentSpanId: publish?.spanId, traceId: publish?.traceId });
    expect(delivers.find((s) => s.attributes['liminal.subscriber'] === 'broken')?.status).toBe(2);
    expect(delivers.find((s) => s.attributes['liminal.subscriber'] === 'auditor')?.status).toBeUndefined();
  });
});

interface RecordedSpan {
  name: string;
  kind: SpanKind | undefined;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: number | undefined;
  ended: boolean;
}

/** A minimal recording tracer provider: enough to see which spans were made, with what parent. */
function recordSpans(): RecordedSpan[] {
  const recorded: RecordedSpan[] = [];
  const tracer = {
    startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
      const parentContext = context === undefined ? undefined : trace.getSpanContext(context);
      const spanContext: SpanContext = {
        traceId: parentContext?.traceId ?? randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: 1,
      };
      const record: RecordedSpan = {
        name,
        kind: options.kind,
        traceId: spanContext.traceId,
        spanId: spanContext.spanId,
        parentSpanId: parentContext?.spanId,
        attributes: { ...options.attributes },
        status: undefined,
        ended: false,
      };
      recorded.push(record);
      const span: Span = {
        spanContext: () => spanContext,
        setAttribute: () => span,
        setAttributes: () => span,
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (status) => {
          record.status = status.code;
          return span;
        },
        updateName: () => span,
        end: () => void (record.ended = true),
        isRecording: () => true,
        recordException: () => undefined,
      };
      return span;
    },
  } as unknown as Tracer;
  trace.setGlobalTracerProvider({ getTracer: () => tracer });
  return recorded;
}
