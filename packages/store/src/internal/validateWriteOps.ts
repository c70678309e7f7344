import { InvalidArgumentError } from '../errors.js';
import type { WriteOp } from '../WriteOp.js';
import { assertName, assertNonNegativeSafeInteger, assertPayloads } from './validate.js';

const opKinds = ['append', 'cas', 'check', 'deleteStream'] as const;

/**
 * A commit is checked whole before any storage is touched: an empty list or
 * one malformed op rejects the commit without writing anything.
 */
export function assertWriteOps(value: unknown): asserts value is readonly WriteOp[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError('ops', 'expected an array of write ops');
  if (value.length === 0) throw new InvalidArgumentError('ops', 'expected at least one op');
  // An index loop, not forEach: a hole in a sparse array must be refused, not skipped.
  for (let index = 0; index < value.length; index++) assertWriteOp(`ops[${index}]`, value[index]);
}

function assertWriteOp(argument: string, op: unknown): asserts op is WriteOp {
  if (typeof op !== 'object' || op === null) throw new InvalidArgumentError(argument, 'expected a write op object');
  const { op: kind } = op as { op?: unknown };
  const fields = op as Record<string, unknown>;
  switch (kind) {
    case 'append':
      assertName(`${argument}.stream`, fields['stream']);
      assertPayloads(`${argument}.payloads`, fields['payloads']);
      assertNonNegativeSafeInteger(`${argument}.expectedSeq`, fields['expectedSeq']);
      return;
    case 'cas':
      assertName(`${argument}.key`, fields['key']);
      assertNonNegativeSafeInteger(`${argument}.expected`, fields['expected']);
      assertNonNegativeSafeInteger(`${argument}.next`, fields['next']);
      return;
    case 'check':
      assertName(`${argument}.key`, fields['key']);
      assertNonNegativeSafeInteger(`${argument}.equals`, fields['equals']);
      return;
    case 'deleteStream':
      assertName(`${argument}.stream`, fields['stream']);
      assertNonNegativeSafeInteger(`${argument}.expectedLength`, fields['expectedLength']);
      return;
    default:
      throw new InvalidArgumentError(`${argument}.op`, `expected one of ${opKinds.join(', ')}, got ${JSON.stringify(kind) ?? 'undefined'}`);
  }
}
