import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  assertPositiveSafeInteger,
  CommitConflictError,
  InvalidArgumentError,
  type DurableStore,
  type WriteOp,
} from '@liminal/store';
import type { OnceOutcome, OnceWork } from './EffectTx.js';
import { ClaimLostError, ConditionFailedError, DedupCollisionError } from './errors.js';
import { commitClaimedWork, release, validConditions } from './internal/commitEffects.js';
import {
  completeOps,
  headStream,
  inFlightClaim,
  isAmbiguous,
  newClaim,
  readHead,
  removeClaimOps,
  unclaimedReceiptOp,
  type DedupRecord,
} from './internal/dedupEntry.js';
import { EffectBuffer } from './internal/EffectBuffer.js';
import { StreamLengths } from './internal/StreamLengths.js';
import { keyHash } from './keyHash.js';
import { storeKey } from './storeKey.js';

/**
 * Proof of holding a claim: pass it to `completeReceipt` / `releaseClaim`.
 * Opaque text (it can cross a process boundary); it names its key, and a
 * token that lost its claim never becomes valid again.
 */
export type ClaimToken = string & { readonly __claimToken: true };

export interface ClaimOptions {
  /** Who claims (one live process or worker; non-empty). Reported to others as the `inFlight` owner. */
  readonly owner: string;
  /** How long the claim holds against other owners, in ms (a positive safe integer). */
  readonly leaseMs: number;
  /**
   * Ops committed with the claim (a fence such as a lease-epoch `check`): if
   * one fails, nothing is written and `claimOrGet` rejects with
   * `ConditionFailedError { index }`.
   */
  readonly conditions?: readonly WriteOp[];
}

export interface SettleOptions {
  readonly token: ClaimToken;
  /** When the receipt is stored (epoch ms; starts its TTL); default `Date.now()`. */
  readonly nowMs?: number;
}

/** What `claimOrGet` found for an idempotency key. */
export type DedupDecision =
  /** The caller holds the key until `expiresAtMs` and must process, then `completeReceipt` or `releaseClaim` with `token`. */
  | { readonly kind: 'claimed'; readonly token: ClaimToken; readonly expiresAtMs: number }
  /** Already processed: return this receipt instead of processing again. */
  | { readonly kind: 'completed'; readonly receipt: Uint8Array }
  /** `owner` holds the key until `expiresAtMs`; after that it may be taken over. */
  | { readonly kind: 'inFlight'; readonly owner: string; readonly expiresAtMs: number };

/** What `lookup` found: a completed or in-flight entry (maybe with an expired lease). */
export type DedupEntry = Exclude<DedupDecision, { kind: 'claimed' }>;

/** After this many lost races in a row a claim attempt gives up (each loss is someone else's successful write). */
const MAX_CLAIM_ROUNDS = 16;

/**
 * An idempotency-key cache with owner-fenced claims. `claimOrGet` gives one
 * owner at a time a lease on a key and a token; writes under the token
 * (`completeReceipt`, `releaseClaim`, or the channel's `processOnce` commit)
 * are conditional on the token still holding the claim, so an owner whose
 * lease expired and whose key was taken over writes nothing
 * (`ClaimLostError`). Each key costs the same few store operations however
 * many attempts it saw (see `internal/dedupEntry.ts` for the layout).
 *
 * Leases compare the claimer's clock (`nowMs`) with the expiry the holder
 * wrote from its own, so clock skew between machines shortens or lengthens a
 * lease; fencing keeps the store consistent either way.
 */
export class DedupCache {
  readonly #lengths = new StreamLengths();

  constructor(
    readonly store: DurableStore,
    readonly namespace: string,
  ) {
    assertName('namespace', namespace);
  }

  /** The head stream of `key`'s entry. */
  streamFor(key: string): string {
    return headStream(this.namespace, key);
  }

  /** The current entry without writing anything; `undefined` when the key is absent (or was released). */
  async lookup(key: string): Promise<DedupEntry | undefined> {
    assertName('key', key);
    const latest = (await this.#read(key)).at(-1);
    return latest && entryOf(latest);
  }

  /**
   * Claims an absent key (or one whose claim's lease expired at `nowMs`, or
   * one held by the same `owner`, i.e. a restarted process), or reports the
   * receipt or live claim already there. Of racing claimers exactly one gets
   * `claimed`; a takeover fences the previous token.
   */
  async claimOrGet(key: string, nowMs: number, options: ClaimOptions): Promise<DedupDecision> {
    assertName('key', key);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const { owner, leaseMs } = validClaimOptions(options);
    const conditions = validConditions(options);
    const expiresAtMs = nowMs + leaseMs;
    assertNonNegativeSafeInteger('nowMs + leaseMs', expiresAtMs);
    const { record: claim, ops: take } = newClaim(this.namespace, key, owner, nowMs, leaseMs);
    const claimed = { kind: 'claimed', token: claim.token as ClaimToken, expiresAtMs } as const;
    // Fresh keys are the common case: try to claim before reading, and read only when the head is taken.
    let ops: readonly WriteOp[] | undefined = take;
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      if (ops !== undefined) {
        const outcome = await this.#tryCommit([...conditions, ...ops], conditions.length);
        if (outcome === 'committed') return claimed;
        if (outcome === 'unknown' && (await this.#holds(key, claim.token))) return claimed;
      }
      const records = await this.#read(key);
      const latest = records.at(-1);
      if (latest?.kind === 'dedupReceipt') return entryOf(latest);
      if (latest !== undefined && latest.owner !== owner && nowMs < latest.expiresAtMs) return entryOf(latest);
      // Absent (released or swept meanwhile), expired, or our own owner's: claim it, fencing the old token.
      const previous = inFlightClaim(records);
      ops = records.length === 0 ? take : previous && [...removeClaimOps(this.namespace, previous, 1), ...take];
    }
    // Only reachable if other owners keep winning takeovers of this very key.
    const latest = (await this.#read(key)).at(-1);
    if (latest === undefined) throw new ClaimLostError(this.namespace, key);
    return entryOf(latest);
  }

  /**
   * Runs `work(tx)` once for `key`, with the same guarantees as a channel's
   * `processOnce` (for work that is not a channel message, e.g. a saga step):
   * claims the key, runs the work, then commits the `tx` writes, the receipt
   * (the work's return value) and `options.conditions` in one `commit`. Done
   * before: `duplicate` (the work does not run). Held by another owner:
   * `inFlight`. Work that throws, a failed condition (`ConditionFailedError`)
   * or a conflicting `tx.cas` (`EffectConflictError`) writes nothing and
   * releases the claim; a claim lost meanwhile is `ClaimLostError`.
   */
  async runOnce(
    key: string,
    nowMs: number,
    claim: ClaimOptions,
    work: OnceWork,
    options: { readonly conditions?: readonly WriteOp[] } = {},
  ): Promise<OnceOutcome> {
    if (typeof work !== 'function') throw new InvalidArgumentError('work', 'expected a function');
    const conditions = validConditions(options);
    // The conditions guard the claim too: work whose fence already failed claims nothing.
    const decision = await this.claimOrGet(key, nowMs, { ...claim, conditions });
    if (decision.kind === 'completed') return { kind: 'duplicate', receipt: decision.receipt };
    if (decision.kind === 'inFlight') return decision;
    const { token } = decision;
    const tx = new EffectBuffer(storeKey(this.namespace, key), conditions);
    let receipt: Uint8Array;
    try {
      receipt = (await work(tx)) ?? new Uint8Array(0);
      assertPayload('receipt (the work’s return value)', receipt);
    } catch (error) {
      tx.close();
      await release({ cache: this, key, token });
      throw error;
    }
    tx.close();
    await commitClaimedWork({ cache: this, units: [{ key, token, tx, receipt }], nowMs, lengths: this.#lengths, conditions });
    return { kind: 'processed', receipt };
  }

  /**
   * The op that records `receipt` for `key` without a claim, for a caller
   * that puts it in the same `commit` as the write the key deduplicates (an
   * idempotent publish, a durable actor's keyed event): it appends at the
   * head's sequence 0, so only an absent key takes it, and a commit carrying
   * a key seen before fails at this op (`CommitConflictError` with its
   * `index`) and writes nothing. Then `lookup(key)` gives the first receipt.
   */
  receiptOp(key: string, receipt: Uint8Array, nowMs: number): WriteOp {
    assertName('key', key);
    assertPayload('receipt', receipt);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    return unclaimedReceiptOp(this.namespace, key, receipt, nowMs);
  }

  /**
   * Stores the receipt of a key claimed with `token`. The same receipt again
   * under the same token is a no-op (a retry after an unknown outcome); a
   * different one is `DedupCollisionError`. A token that no longer holds the
   * claim is `ClaimLostError`, and nothing is written.
   */
  async completeReceipt(key: string, receipt: Uint8Array, options: SettleOptions): Promise<void> {
    assertName('key', key);
    assertPayload('receipt', receipt);
    const { token, nowMs = Date.now() } = options ?? ({} as SettleOptions);
    this.#assertToken(key, token);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    try {
      await this.store.commit(completeOps(this.namespace, key, token, receipt, nowMs));
    } catch (error) {
      if (!(error instanceof CommitConflictError || isAmbiguous(error))) throw error;
      const latest = (await this.#read(key)).at(-1);
      if (latest?.kind === 'dedupReceipt' && latest.token === token) {
        if (sameBytes(latest.receipt, receipt)) return;
        throw new DedupCollisionError(key, 'differentReceipt');
      }
      if (error instanceof CommitConflictError) throw new ClaimLostError(this.namespace, key);
      throw error; // ambiguous, and not landed: the claim is still ours, retrying is safe
    }
  }

  /**
   * Gives up a claim (processing failed before a receipt), so the key can be
   * claimed again at once. Never touches a receipt. A token whose claim was
   * completed is a no-op; one that lost its claim is `ClaimLostError`.
   */
  async releaseClaim(key: string, options: SettleOptions): Promise<void> {
    assertName('key', key);
    const { token } = options ?? ({} as SettleOptions);
    this.#assertToken(key, token);
    const claim = { kind: 'dedupClaim', key, token, owner: '', timestampMs: 0, expiresAtMs: 0 } as const;
    try {
      await this.store.commit(removeClaimOps(this.namespace, claim, 1));
    } catch (error) {
      if (!(error instanceof CommitConflictError || isAmbiguous(error))) throw error;
      const records = await this.#read(key);
      const latest = records.at(-1);
      if (latest?.kind === 'dedupReceipt' && latest.token === token) return; // completed under this token
      if (error instanceof CommitConflictError) throw new ClaimLostError(this.namespace, key);
      if (inFlightClaim(records)?.token === token) throw error; // ambiguous and not applied: still ours, retrying is safe
      // Ambiguous and applied: the claim is gone, which is what releasing wanted.
    }
  }

  /** `conflict` when someone else wrote first; `unknown` when the store cannot say whether it applied. */
  async #tryCommit(ops: readonly WriteOp[], conditions: number): Promise<'committed' | 'conflict' | 'unknown'> {
    try {
      await this.store.commit(ops);
      return 'committed';
    } catch (error) {
      if (error instanceof CommitConflictError && error.index < conditions) throw new ConditionFailedError(error.index, error.cause);
      if (error instanceof CommitConflictError) return 'conflict';
      if (isAmbiguous(error)) return 'unknown';
      throw error;
    }
  }

  async #holds(key: string, token: string): Promise<boolean> {
    return inFlightClaim(await this.#read(key))?.token === token;
  }

  async #read(key: string): Promise<DedupRecord[]> {
    const records = await readHead(this.store, this.streamFor(key));
    if (records.some((record) => record.key !== key)) throw new DedupCollisionError(key, 'hashCollision');
    return records;
  }

  #assertToken(key: string, token: unknown): asserts token is ClaimToken {
    if (typeof token !== 'string' || !/^[0-9a-f]{16}-[A-Za-z0-9_-]{21}$/.test(token)) {
      throw new InvalidArgumentError('token', 'expected a ClaimToken from claimOrGet');
    }
    if (!token.startsWith(`${keyHash(key)}-`)) throw new InvalidArgumentError('token', `was issued for another key than ${JSON.stringify(key)}`);
  }
}

function validClaimOptions(options: ClaimOptions): ClaimOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected {owner, leaseMs}');
  assertName('owner', options.owner);
  assertPositiveSafeInteger('leaseMs', options.leaseMs);
  return options;
}

function entryOf(record: DedupRecord): DedupEntry {
  return record.kind === 'dedupReceipt'
    ? { kind: 'completed', receipt: new Uint8Array(record.receipt) }
    : { kind: 'inFlight', owner: record.owner, expiresAtMs: record.expiresAtMs };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
