import { describe, expect, it } from 'vitest';
import { Conversation, TraceContext } from '../src/index.js';

describe('Conversation spans', () => {
  it('start gives a named span with a fresh trace and no parent', () => {
    const first = Conversation.start('conversation-1');
    const second = Conversation.start('conversation-2');
    expect(first.name).toBe('conversation-1');
    expect(first.parentTraceContext).toBeUndefined();
    expect(first.traceContext.traceId).not.toBe(second.traceContext.traceId);
  });

  it('spawnChild shares the trace id, gets a new span id and points at its parent', () => {
    const parent = Conversation.start('parent');
    const child = parent.spawnChild('child');
    expect(child.name).toBe('child');
    expect(child.parentTraceContext).toBe(parent.traceContext);
    expect(child.traceContext.traceId).toBe(parent.traceContext.traceId);
    expect(child.traceContext.spanId).not.toBe(parent.traceContext.spanId);
  });

  it('continue joins a trace that arrived as a traceparent header', () => {
    const incoming = TraceContext.parse('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const conversation = Conversation.continue('handler', incoming);
    expect(conversation.traceContext.traceId).toBe(incoming.traceId);
    expect(conversation.parentTraceContext).toBe(incoming);
  });

  it('messages carry the conversation trace context and map keeps it', () => {
    const conversation = Conversation.start('conversation');
    const message = conversation.message(1);
    expect(message.traceContext).toBe(conversation.traceContext);
    const mapped = message.map((n) => `${n + 1}`);
    expect(mapped.payload).toBe('2');
    expect(mapped.traceContext).toBe(conversation.traceContext);
  });
});
