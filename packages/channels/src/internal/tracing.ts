import { TraceContext } from '@liminal/durability';
import { errorMessage } from '@liminal/store';
import type * as Otel from '@opentelemetry/api';

// @opentelemetry/api is an optional peer dependency: without it (or without a
// registered tracer provider) no span is made, and trace context still flows
// through `traceparent` ids of our own.
const otel: typeof Otel | undefined = await import('@opentelemetry/api').catch(() => undefined);
// Asked for on every span, not cached: a provider registered (or replaced)
// after this module loaded must take effect.
const tracer = () => otel?.trace.getTracer('@liminal/channels');

export interface PublishSpan {
  /** The context deliveries of this message are children of. */
  readonly traceparent: string;
  end(error?: unknown): void;
}

const noEnd = () => undefined;

/**
 * The span of one publish: an OpenTelemetry PRODUCER span when a tracer is
 * recording, else a bare W3C context. Either way it is a child of `parent`
 * (an invalid `parent` raises `InvalidTraceparentError`).
 */
export function startPublishSpan(channel: string, parent: string | undefined): PublishSpan {
  const parentContext = parent === undefined ? undefined : TraceContext.parse(parent);
  const spans = tracer();
  if (otel !== undefined && spans !== undefined) {
    const span = spans.startSpan(
      `publish ${channel}`,
      { kind: otel.SpanKind.PRODUCER, attributes: { 'messaging.system': 'liminal', 'messaging.destination.name': channel, 'messaging.operation.type': 'publish' } },
      contextOf(otel, parentContext),
    );
    if (span.isRecording()) {
      const { traceId, spanId, traceFlags } = span.spanContext();
      return {
        traceparent: `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`,
        end: (error) => finish(otel, span, error),
      };
    }
  }
  const context = parentContext === undefined ? TraceContext.generate() : parentContext.child();
  return { traceparent: context.toTraceparent(), end: noEnd };
}

/**
 * Runs a handler under an OpenTelemetry CONSUMER span, child of the publish
 * span, made the active span so the handler's own spans nest under it.
 */
export function traceDelivery(channel: string, subscriber: string, traceparent: string, handle: () => Promise<void>): Promise<void> {
  const spans = tracer();
  if (otel === undefined || spans === undefined) return handle();
  const span = spans.startSpan(
    `deliver ${channel}`,
    {
      kind: otel.SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'liminal', 'messaging.destination.name': channel, 'messaging.operation.type': 'process', 'liminal.subscriber': subscriber },
    },
    contextOf(otel, ownTraceparent(traceparent)),
  );
  if (!span.isRecording()) return handle();
  return otel.context.with(otel.trace.setSpan(otel.context.active(), span), handle).then(
    () => finish(otel, span),
    (error: unknown) => {
      finish(otel, span, error);
      throw error;
    },
  );
}

/** Fields of a traceparent this package produced itself (so already valid), without re-validating it per delivery. */
function ownTraceparent(traceparent: string): { traceId: string; spanId: string; flags: number } {
  return { traceId: traceparent.slice(3, 35), spanId: traceparent.slice(36, 52), flags: Number.parseInt(traceparent.slice(53, 55), 16) };
}

function contextOf(api: typeof Otel, parent: { traceId: string; spanId: string; flags: number } | undefined): Otel.Context {
  const active = api.context.active();
  if (parent === undefined) return active;
  return api.trace.setSpanContext(active, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
}

function finish(api: typeof Otel, span: Otel.Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : errorMessage(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorMessage(error) });
  }
  span.end();
}
