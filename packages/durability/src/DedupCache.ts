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
import { fencesOf } from './internal/ClaimFences.js';
import { commitClaimedWork, release, validConditions } from './internal/commitEffects.js';
import {
  assertOwnKey,
  completeOps,
  headStream,
  inFlightClaim,
  isAmbiguous,
  newClaim,
  readEntry,
  readHead,
  removeClaimOps,
  removeOps,
  tokenState,
  unclaimedReceiptOp,
  type DedupRecord,
  type EntryState,
  type TokenState,
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

export interface RunOnceOptions {
  /** Ops committed with the work (a fence such as a lease-epoch `check`); a failure is `ConditionFailedError { index }`. */
  readonly conditions?: readonly WriteOp[];
  /**
   * The `conditions` alone keep every other runner of this key out (a worker
   * group's lease check, which a new holder bumps, under which only the
   * partition's holder runs its keys), so `runOnce` takes no claim: the work
   * runs at once and its writes, its receipt and the conditions are ONE
   * commit instead of a claim commit and then that one. A key done before is
   * found at that commit: the work's writes are dropped and the outcome is
   * `duplicate` (the work did run; only its `tx` writes are exactly-once,
   * as always). A key left claimed by an earlier claimed attempt goes
   * through the claimed path. Default false.
   */
  readonly exclusive?: boolean;
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
    const fences = fencesOf(this);
    // Fresh keys are the common case: try to claim before reading, and read only when the head is taken.
    // The fence is the epoch seen before the commit is sent (a takeover's own removal moves it one up).
    let attempt: Attempt | undefined = { ops: take, epoch: fences.epochFor(key) };
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      if (attempt !== undefined) {
        const outcome = await this.#tryCommit([...conditions, ...attempt.ops], conditions.length);
        if (outcome === 'committed' || (outcome === 'unknown' && (await this.#holds(key, claim.token)))) {
          fences.remember(claim.token, { kind: 'epoch', epoch: attempt.epoch });
          fences.observe(key, attempt.epoch);
          return claimed;
        }
      }
      const state = await this.#readEntry(key);
      const latest = state.records.at(-1);
      if (latest?.kind === 'dedupReceipt') return entryOf(latest);
      if (latest !== undefined && latest.owner !== owner && nowMs < latest.expiresAtMs) return entryOf(latest);
      // Absent (released or swept meanwhile), expired, or our own owner's: claim it, fencing the old token.
      attempt = takeOver(this.namespace, state, take);
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
   *
   * With `exclusive: true` (see `RunOnceOptions`) no claim is taken: the work
   * runs, then its writes, its receipt and the conditions are ONE commit.
   */
  async runOnce(key: string, nowMs: number, claim: ClaimOptions, work: OnceWork, options: RunOnceOptions = {}): Promise<OnceOutcome> {
    if (typeof work !== 'function') throw new InvalidArgumentError('work', 'expected a function');
    const conditions = validConditions(options);
    const { exclusive = false } = options;
    if (typeof exclusive !== 'boolean') throw new InvalidArgumentError('options.exclusive', 'expected a boolean');
    if (exclusive) {
      validClaimOptions(claim); // the fallback below claims: refuse bad options before any work runs
      const unclaimed = await this.#runUnclaimed(key, nowMs, work, conditions);
      if (unclaimed !== undefined) return unclaimed;
      // The key's head held a claim (an earlier attempt that claimed it): take it over through the claimed path.
    }
    return this.#runClaimed(key, nowMs, claim, work, conditions);
  }

  /**
   * `runOnce` without a claim: the receipt is appended where the key's head
   * is still empty, so a key done before stops the commit at that op, and
   * nothing of the work is written. `undefined` when the head held a claim.
   * An unknown outcome is resolved by reading the head back: a receipt there
   * is `duplicate` (done once, maybe by this very commit); none rejects with
   * the store's error (nothing landed, so running again is safe).
   */
  async #runUnclaimed(key: string, nowMs: number, work: OnceWork, conditions: readonly WriteOp[]): Promise<OnceOutcome | undefined> {
    assertName('key', key);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const { tx, receipt } = await this.#perform(key, work, conditions);
    const unit = { key, token: undefined, tx, receipt };
    let found = true;
    try {
      found = (await commitClaimedWork({ cache: this, units: [unit], nowMs, lengths: this.#lengths, conditions })).found === true;
    } catch (error) {
      // Unknown outcome: a receipt there now means the key is done, by this commit or an earlier one; none, nothing landed.
      if (!isAmbiguous(error) || (await this.#read(key)).at(-1)?.kind !== 'dedupReceipt') throw error;
    }
    if (!found) return { kind: 'processed', receipt };
    const latest = (await this.#read(key)).at(-1);
    return latest?.kind === 'dedupReceipt' ? { kind: 'duplicate', receipt: new Uint8Array(latest.receipt) } : undefined;
  }

  async #runClaimed(key: string, nowMs: number, claim: ClaimOptions, work: OnceWork, conditions: readonly WriteOp[]): Promise<OnceOutcome> {
    // The conditions guard the claim too: work whose fence already failed claims nothing.
    const decision = await this.claimOrGet(key, nowMs, { ...claim, conditions });
    if (decision.kind === 'completed') return { kind: 'duplicate', receipt: decision.receipt };
    if (decision.kind === 'inFlight') return decision;
    const { token } = decision;
    const { tx, receipt } = await this.#perform(key, work, conditions).catch(async (error: unknown) => {
      await release({ cache: this, key, token });
      throw error;
    });
    await commitClaimedWork({ cache: this, units: [{ key, token, tx, receipt }], nowMs, lengths: this.#lengths, conditions });
    return { kind: 'processed', receipt };
  }

  /** Runs `work` on a fresh buffer of `key`'s effects, closed (no more writes) once the work returned or threw. */
  async #perform(key: string, work: OnceWork, conditions: readonly WriteOp[]): Promise<{ readonly tx: EffectBuffer; readonly receipt: Uint8Array }> {
    const tx = new EffectBuffer(storeKey(this.namespace, key), conditions);
    try {
      const receipt = (await work(tx)) ?? new Uint8Array(0);
      assertPayload('receipt (the work’s return value)', receipt);
      return { tx, receipt };
    } finally {
      tx.close();
    }
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
    const fences = fencesOf(this);
    let fence = fences.fenceOf(token);
    for (let round = 0; ; round++) {
      if (fence === undefined) {
        const state = await this.#tokenState(key, token);
        if (state.kind === 'settled') return assertSameReceipt(key, state.receipt.receipt, receipt);
        if (state.kind === 'lost') throw new ClaimLostError(this.namespace, key);
        fence = state.fence;
      }
      try {
        await this.store.commit(completeOps(this.namespace, key, token, fence, receipt, nowMs));
        fences.forget(token);
        return;
      } catch (error) {
        if (!(error instanceof CommitConflictError || isAmbiguous(error)) || round >= MAX_CLAIM_ROUNDS) throw error;
        if (error instanceof CommitConflictError) {
          fence = undefined; // the epoch moved (some head of the bucket was removed) or the claim is gone: read what holds
          continue;
        }
        const state = await this.#tokenState(key, token);
        if (state.kind === 'settled') return assertSameReceipt(key, state.receipt.receipt, receipt);
        throw error; // ambiguous, and not landed: retrying is safe (a lost claim says so then)
      }
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
    const fences = fencesOf(this);
    let fence = fences.fenceOf(token);
    for (let round = 0; ; round++) {
      let ops: WriteOp[];
      let epoch: number;
      if (fence?.kind === 'epoch') {
        ({ epoch } = fence);
        ops = removeOps(this.namespace, key, 1, epoch);
      } else {
        const state = await this.#tokenState(key, token);
        if (state.kind === 'settled') return; // completed under this token
        if (state.kind === 'lost') throw new ClaimLostError(this.namespace, key);
        ({ epoch } = state);
        ops = removeOps(this.namespace, key, 1, epoch, state.fence.kind === 'legacyStream' ? token : undefined);
      }
      try {
        await this.store.commit(ops);
        fences.forget(token);
        fences.observe(key, epoch + 1);
        return;
      } catch (error) {
        if (!(error instanceof CommitConflictError || isAmbiguous(error)) || round >= MAX_CLAIM_ROUNDS) throw error;
        if (error instanceof CommitConflictError) {
          fence = undefined; // read what the token holds now
          continue;
        }
        const state = await this.#tokenState(key, token);
        if (state.kind === 'held') throw error; // ambiguous and not applied: still ours, retrying is safe
        return; // ambiguous and applied (the claim is gone, which is what releasing wanted), or completed under this token
      }
    }
  }

  /**
   * A claim's commit: `conflict` when someone else wrote first; `unknown` when
   * the store cannot say whether it applied. A claim is worth something only
   * while its owner lives (a receipt is written under it, in a commit of full
   * durability, or it expires), so it asks for `clientLifetime` durability:
   * a store that cannot lose it without also ending its owner skips the flush.
   */
  async #tryCommit(ops: readonly WriteOp[], conditions: number): Promise<'committed' | 'conflict' | 'unknown'> {
    try {
      await this.store.commit(ops, { durability: 'clientLifetime' });
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
    assertOwnKey(records, key);
    return records;
  }

  async #readEntry(key: string): Promise<EntryState> {
    const state = await readEntry(this.store, this.namespace, keyHash(key));
    assertOwnKey(state.records, key);
    fencesOf(this).observe(key, state.epoch);
    return state;
  }

  async #tokenState(key: string, token: string): Promise<TokenState> {
    const state = await tokenState(this.store, this.namespace, key, token);
    fencesOf(this).observe(key, state.epoch);
    return state;
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

/** A claim commit, and the removal epoch it leaves (its claim's fence). */
interface Attempt {
  readonly ops: readonly WriteOp[];
  readonly epoch: number;
}

/** The commit that takes a read entry: the fresh claim on an absent head, or a takeover of its in-flight claim (a corrupt head: none). */
function takeOver(namespace: string, state: EntryState, take: readonly WriteOp[]): Attempt | undefined {
  if (state.records.length === 0) return { ops: take, epoch: state.epoch };
  if (state.claim === undefined) return undefined;
  return { ops: [...removeClaimOps(namespace, state.epoch, state.claim), ...take], epoch: state.epoch + 1 };
}

/** A settled token's receipt again: the same bytes are a no-op (a retry), others a collision. */
function assertSameReceipt(key: string, stored: Uint8Array, given: Uint8Array): void {
  if (!sameBytes(stored, given)) throw new DedupCollisionError(key, 'differentReceipt');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
