import { CasConflictError, CheckFailedError, CommitConflictError, SequenceConflictError } from '../errors.js';
import type { CommitResult, WriteOp } from '../WriteOp.js';

/** The reads and writes a synchronous adapter gives `applyOps`, inside whatever makes them atomic. */
export interface OpTarget {
  length(stream: string): number;
  counter(key: string): number | undefined;
  append(stream: string, payloads: readonly Uint8Array[], firstSeq: number): void;
  setCounter(key: string, value: number): void;
  deleteStream(stream: string): void;
}

/**
 * A commit's meaning, for adapters that can read and write synchronously in
 * one atomic scope (Memory, SQLite): ops apply in order, each against the
 * state the ops before it left, and the first failing condition throws
 * `CommitConflictError`; the caller discards the writes made so far.
 */
export function applyOps(ops: readonly WriteOp[], target: OpTarget): CommitResult {
  const firstSeqs: (number | undefined)[] = [];
  ops.forEach((op, index) => {
    switch (op.op) {
      case 'append': {
        const actual = target.length(op.stream);
        if (actual !== op.expectedSeq) {
          throw new CommitConflictError(index, new SequenceConflictError(op.stream, op.expectedSeq, actual));
        }
        if (op.payloads.length > 0) target.append(op.stream, op.payloads, op.expectedSeq);
        firstSeqs.push(op.expectedSeq);
        return;
      }
      case 'cas': {
        const actual = target.counter(op.key) ?? 0;
        if (actual !== op.expected) throw new CommitConflictError(index, new CasConflictError(op.key, op.expected, actual));
        target.setCounter(op.key, op.next);
        firstSeqs.push(undefined);
        return;
      }
      case 'check': {
        const actual = target.counter(op.key) ?? 0;
        if (actual !== op.equals) throw new CommitConflictError(index, new CheckFailedError(op.key, op.equals, actual));
        firstSeqs.push(undefined);
        return;
      }
      case 'deleteStream': {
        const actual = target.length(op.stream);
        if (actual !== op.expectedLength) {
          throw new CommitConflictError(index, new SequenceConflictError(op.stream, op.expectedLength, actual));
        }
        if (actual > 0) target.deleteStream(op.stream);
        firstSeqs.push(undefined);
        return;
      }
    }
  });
  return { firstSeqs };
}
