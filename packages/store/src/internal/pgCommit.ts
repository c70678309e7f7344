import { CasConflictError, CheckFailedError, CommitConflictError, SequenceConflictError } from '../errors.js';
import type { CommitResult, WriteOp } from '../WriteOp.js';
import { grownBy } from './ChangeHub.js';
import { noticeElements } from './pgChangeNotice.js';
import { opKind } from './pgCommitFunctions.js';

/**
 * One commit in the form the commit function takes (see `commitFunctions`):
 * its ops in lock order as parallel arrays, and its payloads copied into one
 * buffer (the caller may reuse its buffers once `commit` returned).
 */
export interface EncodedCommit {
  /** The ops in the caller's order, for the result and for errors. */
  readonly ops: readonly WriteOp[];
  /** What its ops lock (see `targetOf`), sorted. */
  readonly targets: readonly string[];
  readonly kinds: number[];
  /** Stream or counter key. */
  readonly names: string[];
  /** expectedSeq, expectedLength, expected or equals. */
  readonly expected: number[];
  /** An append's payload count, a cas's next value, else 0. */
  readonly counts: number[];
  /** Each op's index in the caller's order. */
  readonly indexes: number[];
  /** Each op's first payload, 0-based, in `lengths`. */
  readonly firstPayloads: number[];
  readonly payloads: Buffer;
  readonly lengths: number[];
  /** The notice elements naming the streams it grows, sent if it applies; undefined when it grows none. */
  readonly notice: string | undefined;
}

/** What an op locks, as a key of the one lock order: a stream, or a counter. */
export function targetOf(op: WriteOp): string {
  return op.op === 'append' || op.op === 'deleteStream' ? `s\u0000${op.stream}` : `k\u0000${op.key}`;
}

/**
 * The order a commit takes its locks in: by target (stream or counter), ops
 * on one target keeping their relative order. Ops on different targets
 * commute, so the outcome is that of the ops in the caller's order, and two
 * commits always lock shared targets in the same order (no deadlock between
 * them).
 */
function lockOrder(ops: readonly WriteOp[]): number[] {
  return ops
    .map((op, index) => ({ target: targetOf(op), index }))
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.index - b.index))
    .map(({ index }) => index);
}

export function encodeCommit(ops: readonly WriteOp[]): EncodedCommit {
  const encoded = {
    ops,
    targets: [...new Set(ops.map(targetOf))].sort(),
    kinds: [] as number[],
    names: [] as string[],
    expected: [] as number[],
    counts: [] as number[],
    indexes: lockOrder(ops),
    firstPayloads: [] as number[],
    lengths: [] as number[],
  };
  const payloads: Uint8Array[] = [];
  for (const index of encoded.indexes) {
    const op = ops[index]!;
    encoded.kinds.push(opKind[op.op]);
    encoded.firstPayloads.push(payloads.length);
    switch (op.op) {
      case 'append':
        encoded.names.push(op.stream);
        encoded.expected.push(op.expectedSeq);
        encoded.counts.push(op.payloads.length);
        for (const payload of op.payloads) {
          payloads.push(payload);
          encoded.lengths.push(payload.byteLength);
        }
        break;
      case 'deleteStream':
        encoded.names.push(op.stream);
        encoded.expected.push(op.expectedLength);
        encoded.counts.push(0);
        break;
      case 'cas':
        encoded.names.push(op.key);
        encoded.expected.push(op.expected);
        encoded.counts.push(op.next);
        break;
      case 'check':
        encoded.names.push(op.key);
        encoded.expected.push(op.equals);
        encoded.counts.push(0);
        break;
    }
  }
  return { ...encoded, payloads: Buffer.concat(payloads), notice: noticeElements(grownBy(ops)) };
}

/** The commit function's parameters for `commits`, run together in that order. */
export function commitParams(commits: readonly EncodedCommit[]): unknown[] {
  const firstPayloads: number[] = [];
  let payloadCount = 0;
  for (const commit of commits) {
    // One-based: PostgreSQL arrays start at 1.
    for (const first of commit.firstPayloads) firstPayloads.push(first + payloadCount + 1);
    payloadCount += commit.lengths.length;
  }
  const lengths = commits.flatMap((commit) => commit.lengths);
  return [
    commits.flatMap((commit) => commit.kinds),
    commits.flatMap((commit) => commit.names),
    commits.flatMap((commit) => commit.expected),
    commits.flatMap((commit) => commit.counts),
    commits.flatMap((commit) => commit.indexes),
    firstPayloads,
    commits.length === 1 ? commits[0]!.payloads : Buffer.concat(commits.map((commit) => commit.payloads)),
    offsets(lengths),
    lengths,
    commits.map((commit) => commit.kinds.length),
    commits.map((commit) => commit.notice ?? null),
  ];
}

/** What a commit that applied returns: `firstSeqs[i]` is op i's expectedSeq when it is an append. */
export function commitResult(ops: readonly WriteOp[]): CommitResult {
  return { firstSeqs: ops.map((op) => (op.op === 'append' ? op.expectedSeq : undefined)) };
}

/** The `CommitConflictError` the commit function reported, as `<op index> <actual value>`. */
export function conflictOf(ops: readonly WriteOp[], detail: string | undefined): CommitConflictError {
  const [index, actual] = (detail ?? '').split(' ').map(Number);
  const op = index === undefined ? undefined : ops[index];
  if (op === undefined || actual === undefined || !Number.isSafeInteger(actual)) {
    throw new Error(`the commit function reported a conflict Liminal cannot read: ${JSON.stringify(detail)}`);
  }
  switch (op.op) {
    case 'append':
      return new CommitConflictError(index!, new SequenceConflictError(op.stream, op.expectedSeq, actual));
    case 'deleteStream':
      return new CommitConflictError(index!, new SequenceConflictError(op.stream, op.expectedLength, actual));
    case 'cas':
      return new CommitConflictError(index!, new CasConflictError(op.key, op.expected, actual));
    case 'check':
      return new CommitConflictError(index!, new CheckFailedError(op.key, op.equals, actual));
  }
}

function offsets(lengths: readonly number[]): number[] {
  let offset = 0;
  return lengths.map((length) => {
    const start = offset;
    offset += length;
    return start;
  });
}
