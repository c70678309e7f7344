import { InvalidArgumentError } from '../errors.js';

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

/** Stream names and counter keys: non-empty text (see `assertString`). */
export function assertName(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(argument, `expected a non-empty string, got ${describe(value)}`);
  }
  assertString(argument, value);
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

export function assertPayload(argument: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(argument, `expected a Uint8Array, got ${describe(value)}`);
  }
}

export function assertPayloads(argument: string, value: unknown): asserts value is readonly Uint8Array[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `expected an array of Uint8Array, got ${describe(value)}`);
  }
  // An index loop, not forEach: forEach skips the holes of a sparse array, which would pass unchecked.
  for (let index = 0; index < value.length; index++) assertPayload(`${argument}[${index}]`, value[index]);
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  return Array.isArray(value) ? 'an array' : `a ${value.constructor?.name ?? typeof value}`;
}
