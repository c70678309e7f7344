import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidTraceparentError, TraceContext } from '../src/index.js';

const hexString = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

describe('TraceContext', () => {
  it('generates nonzero 128-bit trace ids and 64-bit span ids, distinct per trace', () => {
    const a = TraceContext.generate();
    const b = TraceContext.generate();
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.traceId).not.toBe('0'.repeat(32));
    expect(a.spanId).not.toBe('0'.repeat(16));
    expect(a.traceId).not.toBe(b.traceId);
  });

  it('formats and parses W3C traceparent (round trip for every valid id)', () => {
    fc.assert(
      fc.property(
        hexString(32).filter((id) => /[^0]/.test(id)),
        hexString(16).filter((id) => /[^0]/.test(id)),
        fc.integer({ min: 0, max: 255 }),
        (traceId, spanId, flags) => {
          const header = `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`;
          const parsed = TraceContext.parse(header);
          expect(parsed.traceId).toBe(traceId);
          expect(parsed.spanId).toBe(spanId);
          expect(parsed.flags).toBe(flags);
          expect(parsed.toTraceparent()).toBe(header);
        },
      ),
    );
  });

  it('parses the W3C example header', () => {
    const context = TraceContext.parse('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(context.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(context.spanId).toBe('00f067aa0ba902b7');
    expect(context.sampled).toBe(true);
  });

  it('reads a future version with extra fields as version 00', () => {
    const context = TraceContext.parse('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra');
    expect(context.toTraceparent()).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
  });

  it.each([
    ['empty', ''],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['uppercase hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['version 00 with extra field', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x'],
    ['missing flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7'],
  ])('rejects %s with InvalidTraceparentError', (_label, header) => {
    const error = (() => {
      try {
        TraceContext.parse(header);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidTraceparentError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', traceparent: header });
  });
});
