import { InvalidArgumentError } from '../errors.js';

/**
 * Sizes every adapter accepts, checked before storage is touched so a value
 * is accepted by all adapters or refused by all with the same error (and is
 * never discovered unstorable mid-batch, failing the appends grouped with
 * it). Names: PostgreSQL's btree index holds a key of at most ~2700 bytes.
 * Payloads: far below SQLite's 1e9-byte and PostgreSQL's 1 GiB field limits,
 * so a group of them still fits one statement.
 */
export const storeLimits = {
  /** Stream names and counter keys, in UTF-8 bytes. */
  maxNameBytes: 1_024,
  /** One payload, in bytes (64 MiB). */
  maxPayloadBytes: 64 * 1024 * 1024,
} as const;

/**
 * Sequences, offsets and counters are non-negative safe integers. Checking
 * before storage is touched means a bad call can never leave a partial write.
 */
export function assertNonNegativeSafeInteger(argument: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(argument, `expected a non-negative safe integer, got ${describe(value)}`);
  }
}

export function assertPositiveSafeInteger(argument: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(argument, `expected a positive safe integer, got ${describe(value)}`);
  }
}

/** Stream names and counter keys: non-empty text (see `assertString`) of at most `storeLimits.maxNameBytes`. */
export function assertName(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(argument, `expected a non-empty string, got ${describe(value)}`);
  }
  assertString(argument, value);
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so short names skip the count.
  if (value.length * 3 > storeLimits.maxNameBytes && Buffer.byteLength(value, 'utf8') > storeLimits.maxNameBytes) {
    throw new InvalidArgumentError(
      argument,
      `expected at most ${storeLimits.maxNameBytes} UTF-8 bytes, got ${Buffer.byteLength(value, 'utf8')}`,
    );
  }
}

// With the `u` flag a surrogate pair is one code point, so only unpaired halves match.
const loneSurrogate = /[\uD800-\uDFFF]/u;

/**
 * Text every backend stores unchanged: PostgreSQL text cannot hold U+0000,
 * and a lone surrogate has no UTF-8 form (it would come back as U+FFFD, a
 * different name).
 */
export function assertString(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(argument, `expected a string, got ${describe(value)}`);
  }
  if (value.includes('\0') || loneSurrogate.test(value)) {
    throw new InvalidArgumentError(argument, `expected text without U+0000 or lone surrogates, got ${describe(value)}`);
  }
}

/**
 * A `Uint8Array` (a `Buffer` is one), including one made in another realm (a
 * `vm` context, a worker's transferred view) where `instanceof` says no.
 */
export function assertPayload(argument: string, value: unknown): asserts value is Uint8Array {
  if (!isUint8Array(value)) {
    throw new InvalidArgumentError(argument, `expected a Uint8Array, got ${describe(value)}`);
  }
  if (value.byteLength > storeLimits.maxPayloadBytes) {
    throw new InvalidArgumentError(argument, `expected at most ${storeLimits.maxPayloadBytes} bytes, got ${value.byteLength}`);
  }
}

function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array || (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]');
}

export function assertPayloads(argument: string, value: unknown): asserts value is readonly Uint8Array[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `expected an array of Uint8Array, got ${describe(value)}`);
  }
  // An index loop, not forEach: forEach skips the holes of a sparse array, which would pass unchecked.
  for (let index = 0; index < value.length; index++) assertPayload(`${argument}[${index}]`, value[index]);
}

/** A value as an error message shows it: what it is, not only how it prints (`"4"` is a string, not 4). */
export function describe(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (typeof value === 'boolean') return `${value} (a boolean)`;
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string)`;
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
  return `a ${(value as { constructor?: { name?: string } }).constructor?.name ?? typeof value}`;
}
