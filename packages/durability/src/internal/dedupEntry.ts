import { readBatches, StoreUnavailableError, type DurableStore, type WriteOp } from '@liminal/store';
import { nanoid } from 'nanoid';
import { codec, type DedupClaimRecord, type DedupReceiptRecord } from '../codec.js';
import { keyHash } from '../keyHash.js';
import { storeKey } from '../storeKey.js';

/*
 * The layout of one dedup entry, shared by DedupCache, DedupSweeper and the
 * channel (which commits receipts together with its own writes).
 *
 * An entry is a short *head* stream `dedup/<namespace>/<keyHash(key)>` holding
 * `[claim]` (in flight), `[claim, receipt]` (completed) or `[receipt]` (a
 * receipt recorded without a claim, e.g. a publish). Claims are serialised by
 * appending to the head at sequence 0, so of racing claimers one wins.
 *
 * Each claim also owns a *claim stream* `claim/<namespace>/<hash>/<token>`
 * holding one entry. It is the fence: every write made under a token includes
 * `deleteStream(claimStream, expectedLength 1)`, and every takeover, release,
 * completion and sweep of a claim deletes its claim stream. The head alone
 * could not fence, because its sequences restart at 0 whenever it is deleted;
 * a token is random and its claim stream never comes back once deleted, so a
 * stale token's writes conflict forever, whatever happened to the head since.
 * Because a takeover rewrites the head from scratch, the head never holds more
 * than two records: reading it costs the same after a thousand failed attempts.
 */

export type DedupRecord = DedupClaimRecord | DedupReceiptRecord;

/** Heads hold at most two records; a larger read only matters for a corrupt stream. */
const HEAD_READ = 8;

export function headStream(namespace: string, key: string): string {
  return storeKey('dedup', namespace, keyHash(key));
}

export function claimStream(namespace: string, key: string, token: string): string {
  return storeKey('claim', namespace, keyHash(key), token);
}

/** Every record of a head, decoded; any foreign or malformed entry is a DecodeError. */
export async function readHead(store: DurableStore, stream: string): Promise<DedupRecord[]> {
  const records: DedupRecord[] = [];
  for await (const batch of readBatches(store, stream, 0, HEAD_READ)) {
    for (const entry of batch) records.push(codec.decodeAs(entry.payload, 'dedupClaim', 'dedupReceipt'));
  }
  return records;
}

/** A fresh claim of `key` by `owner` until `nowMs + leaseMs`, and the ops that take it (they need the head absent). */
export function newClaim(namespace: string, key: string, owner: string, nowMs: number, leaseMs: number): { record: DedupClaimRecord; ops: WriteOp[] } {
  const record: DedupClaimRecord = { kind: 'dedupClaim', key, token: `${keyHash(key)}-${nanoid()}`, owner, timestampMs: nowMs, expiresAtMs: nowMs + leaseMs };
  const bytes = codec.encode(record);
  return {
    record,
    ops: [
      { op: 'append', stream: headStream(namespace, key), payloads: [bytes], expectedSeq: 0 },
      { op: 'append', stream: claimStream(namespace, key, record.token), payloads: [bytes], expectedSeq: 0 },
    ],
  };
}

/** Writes that store `receipt` under `token`'s claim (still at the head's sequence 0) and retire its fence. */
export function completeOps(namespace: string, key: string, token: string, receipt: Uint8Array, nowMs: number): WriteOp[] {
  const record = codec.encode({ kind: 'dedupReceipt', key, token, receipt, timestampMs: nowMs });
  return [
    { op: 'deleteStream', stream: claimStream(namespace, key, token), expectedLength: 1 },
    { op: 'append', stream: headStream(namespace, key), payloads: [record], expectedSeq: 1 },
  ];
}

/**
 * The write that stores `receipt` for `key` without a claim: it appends at the
 * head's sequence 0, so only a key never seen (or swept) takes it, and a
 * commit carrying a key done or claimed before fails at this op.
 */
export function unclaimedReceiptOp(namespace: string, key: string, receipt: Uint8Array, nowMs: number): WriteOp {
  const record = codec.encode({ kind: 'dedupReceipt', key, receipt, timestampMs: nowMs });
  return { op: 'append', stream: headStream(namespace, key), payloads: [record], expectedSeq: 0 };
}

/** Removes a claim and its fence (a release, a takeover or a sweep of an expired claim). */
export function removeClaimOps(namespace: string, claim: DedupClaimRecord, headLength: number): WriteOp[] {
  return [
    { op: 'deleteStream', stream: claimStream(namespace, claim.key, claim.token), expectedLength: 1 },
    { op: 'deleteStream', stream: headStream(namespace, claim.key), expectedLength: headLength },
  ];
}

/** The claim a head records, when its entry is in flight. */
export function inFlightClaim(records: readonly DedupRecord[]): DedupClaimRecord | undefined {
  const [first] = records;
  return records.length === 1 && first?.kind === 'dedupClaim' ? first : undefined;
}

/** A store error after which the write may or may not have been applied: resolve it by reading. */
export function isAmbiguous(error: unknown): boolean {
  return error instanceof StoreUnavailableError && error.ambiguous;
}
