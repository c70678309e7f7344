import { readBatches, StoreUnavailableError, type DurableStore, type WriteOp } from '@liminal/store';
import { nanoid } from 'nanoid';
import { codec, type DedupClaimRecord, type DedupReceiptRecord } from '../codec.js';
import { DedupCollisionError } from '../errors.js';
import { keyHash } from '../keyHash.js';
import { storeKey } from '../storeKey.js';

/*
 * The layout of one dedup entry, shared by DedupCache, DedupSweeper and the
 * channel (which commits receipts together with its own writes).
 *
 * An entry is a short *head* stream `dedup/<namespace>/<keyHash(key)>` holding
 * `[claim]` (in flight), `[claim, receipt]` (completed) or `[receipt]` (a
 * receipt recorded without a claim, e.g. a publish). Claims are serialised by
 * appending to the head at sequence 0, so of racing claimers one wins: a claim
 * is that one row.
 *
 * The fence is the head itself plus a *removal epoch*: the counter
 * `dedup/<namespace>/removals/<first two hex digits of the hash>` (one per
 * 256th of the keys). Every commit that deletes a head (a release, a takeover,
 * a sweep) moves its epoch up by one with a `cas`, and every write made under
 * a token is conditional on the head's length AND on the epoch still holding a
 * value seen before the claim was written (a `check`). The head's length alone
 * could not fence, because its sequences restart at 0 whenever it is deleted
 * (a stale token's receipt would land on the next claim at the same sequence);
 * an epoch that has not moved since the claim proves the head was never
 * deleted since, so its record 0 is still that claim. Epochs only grow, so a
 * token fenced once stays fenced. Because a takeover rewrites the head from
 * scratch, the head never holds more than two records: reading it costs the
 * same after a thousand failed attempts.
 *
 * The previous layout gave each claim a second stream, the *legacy fence*
 * `claim/<namespace>/<hash>/<token>` (one entry, deleted when the claim was
 * completed or removed). Entries it wrote are honoured: a claim whose legacy
 * fence still exists is settled by deleting that fence, and every removal of
 * such a claim deletes it too, so the old token is fenced as before.
 */

export type DedupRecord = DedupClaimRecord | DedupReceiptRecord;

/** How a write proves that its token still holds the claim. */
export type Fence =
  /** The removal epoch of the key's bucket was `epoch` at or before the claim (a claim of this layout). */
  | { readonly kind: 'epoch'; readonly epoch: number }
  /** The claim's legacy fence stream still exists (a claim written by the previous layout). */
  | { readonly kind: 'legacyStream' };

/** What one read of an entry found; the epoch is read before the head, so a removal after it moves the epoch. */
export interface EntryState {
  readonly epoch: number;
  readonly records: readonly DedupRecord[];
  /** The in-flight claim, and whether it still has a legacy fence stream. */
  readonly claim?: { readonly record: DedupClaimRecord; readonly legacyFence: boolean };
}

/** Heads hold at most two records; a larger read only matters for a corrupt stream. */
const HEAD_READ = 8;

export function headStream(namespace: string, key: string): string {
  return storeKey('dedup', namespace, keyHash(key));
}

/** The removal epoch counter of the keys whose hash starts like `hash`. */
export function removalEpochKey(namespace: string, hash: string): string {
  return storeKey('dedup', namespace, 'removals', hash.slice(0, 2));
}

/** The second stream the previous layout wrote for each claim; only ever read and deleted now. */
export function legacyFenceStream(namespace: string, key: string, token: string): string {
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

/** The epoch, then the head `dedup/<namespace>/<hash>`, then (for an in-flight claim) whether it has a legacy fence. */
export async function readEntry(store: DurableStore, namespace: string, hash: string): Promise<EntryState> {
  const epoch = (await store.readValue(removalEpochKey(namespace, hash))) ?? 0;
  const records = await readHead(store, storeKey('dedup', namespace, hash));
  const record = inFlightClaim(records);
  if (record === undefined) return { epoch, records };
  const legacyFence = (await store.streamLength(legacyFenceStream(namespace, record.key, record.token))) > 0;
  return { epoch, records, claim: { record, legacyFence } };
}

/** What a token holds now, read from the store: its claim still in flight (with the fence to write under), its receipt, or nothing. */
export type TokenState =
  | { readonly kind: 'held'; readonly fence: Fence; readonly epoch: number }
  | { readonly kind: 'settled'; readonly receipt: DedupReceiptRecord; readonly epoch: number }
  | { readonly kind: 'lost'; readonly epoch: number };

/** Reads what `token` holds of `key` (for a write under a token whose fence is not known, or whose epoch check failed). */
export async function tokenState(store: DurableStore, namespace: string, key: string, token: string): Promise<TokenState> {
  const state = await readEntry(store, namespace, keyHash(key));
  assertOwnKey(state.records, key);
  const { epoch, claim } = state;
  const latest = state.records.at(-1);
  if (latest?.kind === 'dedupReceipt' && latest.token === token) return { kind: 'settled', receipt: latest, epoch };
  if (claim?.record.token !== token) return { kind: 'lost', epoch };
  return { kind: 'held', fence: claim.legacyFence ? { kind: 'legacyStream' } : { kind: 'epoch', epoch }, epoch };
}

/** `records` of the head of `key`, refusing a different key that hashes into the same stream. */
export function assertOwnKey(records: readonly DedupRecord[], key: string): void {
  if (records.some((record) => record.key !== key)) throw new DedupCollisionError(key, 'hashCollision');
}

/** A fresh claim of `key` by `owner` until `nowMs + leaseMs`, and the op that takes it (it needs the head absent). */
export function newClaim(namespace: string, key: string, owner: string, nowMs: number, leaseMs: number): { record: DedupClaimRecord; ops: WriteOp[] } {
  const record: DedupClaimRecord = { kind: 'dedupClaim', key, token: `${keyHash(key)}-${nanoid()}`, owner, timestampMs: nowMs, expiresAtMs: nowMs + leaseMs };
  return { record, ops: [{ op: 'append', stream: headStream(namespace, key), payloads: [codec.encode(record)], expectedSeq: 0 }] };
}

/** The ops proving that the claim `fence` guards is still in flight (the head still holds it alone). */
export function fenceOps(namespace: string, key: string, token: string, fence: Fence): WriteOp[] {
  return fence.kind === 'epoch'
    ? [{ op: 'check', key: removalEpochKey(namespace, keyHash(key)), equals: fence.epoch }]
    : [{ op: 'deleteStream', stream: legacyFenceStream(namespace, key, token), expectedLength: 1 }];
}

/** Writes that store `receipt` under `token`'s claim (still alone at the head's sequence 0). */
export function completeOps(namespace: string, key: string, token: string, fence: Fence, receipt: Uint8Array, nowMs: number): WriteOp[] {
  const record = codec.encode({ kind: 'dedupReceipt', key, token, receipt, timestampMs: nowMs });
  return [...fenceOps(namespace, key, token, fence), { op: 'append', stream: headStream(namespace, key), payloads: [record], expectedSeq: 1 }];
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

/**
 * Deletes the head of `key` (holding `headLength` records), moving its epoch
 * from `epoch` (seen before the head was read) to `epoch + 1`, and the legacy
 * fence of `legacyToken`'s claim when it has one. Used by a release, a
 * takeover and a sweep; the `cas` fails if any head of the bucket was deleted
 * since `epoch` was seen, so a head is only ever deleted as it was read.
 */
export function removeOps(namespace: string, key: string, headLength: number, epoch: number, legacyToken?: string): WriteOp[] {
  return [
    ...(legacyToken === undefined ? [] : [{ op: 'deleteStream', stream: legacyFenceStream(namespace, key, legacyToken), expectedLength: 1 } as const]),
    { op: 'deleteStream', stream: headStream(namespace, key), expectedLength: headLength },
    { op: 'cas', key: removalEpochKey(namespace, keyHash(key)), expected: epoch, next: epoch + 1 },
  ];
}

/** The ops that remove an in-flight `claim` read with `epoch` (a takeover or a sweep); the head holds it alone. */
export function removeClaimOps(namespace: string, epoch: number, claim: NonNullable<EntryState['claim']>): WriteOp[] {
  return removeOps(namespace, claim.record.key, 1, epoch, claim.legacyFence ? claim.record.token : undefined);
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
