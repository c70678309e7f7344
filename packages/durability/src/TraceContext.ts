import { InvalidTraceparentError } from './errors.js';
import { randomHex } from './internal/randomHex.js';

const zeroTraceId = '0'.repeat(32);
const zeroSpanId = '0'.repeat(16);
const hex = (length: number) => new RegExp(`^[0-9a-f]{${length}}$`);
const traceIdPattern = hex(32);
const spanIdPattern = hex(16);
const bytePattern = hex(2);

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): a nonzero 128-bit
 * trace id shared by every span of one trace, a nonzero 64-bit span id, and the
 * trace flags byte. Ids are lowercase hex, exactly as they travel in `traceparent`.
 */
export class TraceContext {
  private constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly flags: number,
  ) {}

  /** A new trace: fresh random trace and span ids, sampled. */
  static generate(): TraceContext {
    return new TraceContext(randomHex(16), randomHex(8), 1);
  }

  /**
   * Parses a `traceparent` header. Version 00 must be exactly four fields; a
   * later version may append fields (the spec's forward compatibility) and is
   * read as 00. Anything else raises `InvalidTraceparentError`.
   */
  static parse(traceparent: string): TraceContext {
    const fields = traceparent.split('-');
    const [version, traceId, spanId, flags] = fields;
    const fail = (reason: string) => new InvalidTraceparentError(traceparent, reason);
    if (version === undefined || !bytePattern.test(version)) throw fail('version is not two lowercase hex digits');
    if (version === 'ff') throw fail('version ff is forbidden');
    if (version === '00' ? fields.length !== 4 : fields.length < 4) throw fail('expected version-traceid-spanid-flags');
    if (traceId === undefined || !traceIdPattern.test(traceId)) throw fail('trace id is not 32 lowercase hex digits');
    if (traceId === zeroTraceId) throw fail('trace id is all zeros');
    if (spanId === undefined || !spanIdPattern.test(spanId)) throw fail('span id is not 16 lowercase hex digits');
    if (spanId === zeroSpanId) throw fail('span id is all zeros');
    if (flags === undefined || !bytePattern.test(flags)) throw fail('flags are not two lowercase hex digits');
    return new TraceContext(traceId, spanId, Number.parseInt(flags, 16));
  }

  /** Same trace, new span: the context a child span runs under. */
  child(): TraceContext {
    return new TraceContext(this.traceId, randomHex(8), this.flags);
  }

  get sampled(): boolean {
    return (this.flags & 1) === 1;
  }

  /** The `traceparent` header (version 00). */
  toTraceparent(): string {
    return `00-${this.traceId}-${this.spanId}-${this.flags.toString(16).padStart(2, '0')}`;
  }

  toString(): string {
    return this.toTraceparent();
  }

  equals(other: TraceContext): boolean {
    return this.traceId === other.traceId && this.spanId === other.spanId && this.flags === other.flags;
  }
}
