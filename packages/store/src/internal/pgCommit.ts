import type pg from 'pg';
import { CasConflictError, CheckFailedError, CommitConflictError, SequenceConflictError } from '../errors.js';
import type { CommitResult, WriteOp } from '../WriteOp.js';
import type { statements } from './pgStatements.js';

type Statements = ReturnType<typeof statements>;

/** A write op with its payloads copied into Buffers (the driver's bytea form). */
export type PgWriteOp = Exclude<WriteOp, { op: 'append' }> | { op: 'append'; stream: string; payloads: Buffer[]; expectedSeq: number };

/** Copies every payload now: the caller may reuse its buffers before the statement is sent. */
export function copyPayloads(ops: readonly WriteOp[]): PgWriteOp[] {
  return ops.map((op) => (op.op === 'append' ? { ...op, payloads: op.payloads.map((payload) => Buffer.from(payload)) } : op));
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
function lockOrder(ops: readonly PgWriteOp[]): number[] {
  return ops
    .map((op, index) => ({ target: targetOf(op), index }))
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.index - b.index))
    .map(({ index }) => index);
}

/**
 * Runs one commit's ops on `client`, inside a transaction the caller opened.
 * Resolves with the result, or throws `CommitConflictError` for the first
 * failing op in the caller's order (the caller rolls back), or the driver's
 * error.
 */
export async function applyOpsOnPg(client: pg.PoolClient, sql: Statements, ops: readonly PgWriteOp[]): Promise<CommitResult> {
  const firstSeqs: (number | undefined)[] = ops.map(() => undefined);
  // Once a target has failed, its later ops are skipped (they would see a
  // state that never exists); ops on other targets still run, so the lowest
  // failing index is the one the caller's order would have hit first.
  const failedTargets = new Set<string>();
  let firstFailure: CommitConflictError | undefined;
  for (const index of lockOrder(ops)) {
    const op = ops[index]!;
    const target = targetOf(op);
    if (failedTargets.has(target)) continue;
    const cause = await applyOne(client, sql, op);
    if (typeof cause === 'number') firstSeqs[index] = cause;
    else if (cause !== undefined) {
      failedTargets.add(target);
      if (firstFailure === undefined || index < firstFailure.index) firstFailure = new CommitConflictError(index, cause);
    }
  }
  if (firstFailure !== undefined) throw firstFailure;
  return { firstSeqs };
}

/** The first sequence of an append, undefined for a held condition, or the op's conflict. */
async function applyOne(
  client: pg.PoolClient,
  sql: Statements,
  op: PgWriteOp,
): Promise<number | undefined | SequenceConflictError | CasConflictError | CheckFailedError> {
  switch (op.op) {
    case 'append': {
      if (op.payloads.length === 0) {
        const actual = await heldLength(client, sql, op.stream, op.expectedSeq);
        return actual === op.expectedSeq ? op.expectedSeq : new SequenceConflictError(op.stream, op.expectedSeq, actual);
      }
      if (op.payloads.length === 1) {
        const { rowCount } = await client.query({ ...sql.commitAppendOne, values: [op.stream, op.expectedSeq, op.payloads[0]] });
        if (rowCount === 1) return op.expectedSeq;
        return new SequenceConflictError(op.stream, op.expectedSeq, await length(client, sql, op.stream));
      }
      const { rows } = await client.query<{ head: number }>({ ...sql.commitAppend, values: [op.stream, op.expectedSeq, op.payloads] });
      if (rows[0]?.head === 1) return op.expectedSeq;
      return new SequenceConflictError(op.stream, op.expectedSeq, await length(client, sql, op.stream));
    }
    case 'deleteStream': {
      const actual = await heldLength(client, sql, op.stream, op.expectedLength);
      if (actual !== op.expectedLength) return new SequenceConflictError(op.stream, op.expectedLength, actual);
      if (actual > 0) await client.query(sql.deleteStream, [op.stream]);
      return undefined;
    }
    case 'cas': {
      const { rowCount } = await client.query({ ...(op.expected === 0 ? sql.casFromZero : sql.casUpdate), values: [op.key, op.expected, op.next] });
      if (rowCount === 1) return undefined;
      return new CasConflictError(op.key, op.expected, (await heldValue(client, sql, op.key)) ?? 0);
    }
    case 'check': {
      let value = await heldValue(client, sql, op.key);
      if (value === undefined) {
        // No row to lock: hold the key's "absent" lock, then look again (a
        // counter created while we waited is seen by the fresh statement).
        await client.query({ ...sql.lockAbsentKey, values: [op.key] });
        value = await heldValue(client, sql, op.key);
      }
      const actual = value ?? 0;
      return actual === op.equals ? undefined : new CheckFailedError(op.key, op.equals, actual);
    }
  }
}

/**
 * The stream's length, held until the transaction ends when it is `expected`:
 * the last entry is locked first (for an empty stream, its empty-stream
 * lock), then the length read by a later statement (so it sees an append
 * that committed while the lock was awaited).
 */
async function heldLength(client: pg.PoolClient, sql: Statements, stream: string, expected: number): Promise<number> {
  if (expected > 0) await client.query({ ...sql.lockLast, values: [stream, expected] });
  else await client.query({ ...sql.lockEmptyStream, values: [stream] });
  return length(client, sql, stream);
}

async function length(client: pg.PoolClient, sql: Statements, stream: string): Promise<number> {
  const result = await client.query<{ length: string }>({ ...sql.length, values: [stream] });
  return Number(result.rows[0]?.length ?? 0);
}

async function heldValue(client: pg.PoolClient, sql: Statements, key: string): Promise<number | undefined> {
  const result = await client.query<{ value: string }>({ ...sql.readValueForShare, values: [key] });
  const row = result.rows[0];
  return row === undefined ? undefined : Number(row.value);
}
