import { randomBytes } from 'node:crypto';

// W3C Trace Context: version-traceid-parentid-flags, lowercase hex.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface TraceParts {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
}

export function parseTraceparent(header: string | undefined): TraceParts | undefined {
  const match = header === undefined ? null : TRACEPARENT.exec(header);
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  // All-zero ids are invalid by the spec; treat them as no parent at all.
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent({ traceId, spanId, flags }: TraceParts): string {
  return `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`;
}

/**
 * The context of a new span: a child of `parent` when it is a valid
 * traceparent, else the root of a new sampled trace. An invalid header is
 * ignored rather than rejected, as the W3C spec asks of receivers.
 */
export function childSpan(parent: string | undefined): TraceParts {
  const parsed = parseTraceparent(parent);
  return {
    traceId: parsed?.traceId ?? randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    flags: parsed?.flags ?? 1,
  };
}
