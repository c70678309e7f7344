import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  SequenceConflictError,
  type DurableStore,
} from '@liminal/store';
import { codec } from './codec.js';
import { DedupCollisionError } from './errors.js';
import { readDedupRecords, type DedupRecord } from './internal/dedupRecords.js';
import { keyHash } from './keyHash.js';
import { storeKey } from './storeKey.js';

/** Forgetting a claim only costs its `completeReceipt` one read. */
const MAX_REMEMBERED_CLAIMS = 4096;

/** What `claimOrGet` / `lookup` found for an idempotency key. */
export type DedupDecision =
  /** The caller owns the key now and must process, then `completeReceipt` or `releaseClaim`. */
  | { readonly kind: 'claimed' }
  /** Already processed: return this receipt instead of processing again. */
  | { readonly kind: 'completed'; readonly receipt: Uint8Array }
  /** Someone claimed the key and has not completed or released it. */
  | { readonly kind: 'inFlight' };

type ActiveRecord = Extract<DedupRecord, { kind: 'dedupClaim' | 'dedupReceipt' }>;

interface StreamView {
  /** The latest record unless it is a tombstone. */
  readonly current: ActiveRecord | undefined;
  readonly latest: DedupRecord | undefined;
  readonly nextSeq: number;
}

/**
 * An idempotency-key cache: one append-only stream per key, named
 * `namespace:keyHash(key)`, whose latest record is a claim, a receipt or a
 * tombstone. Every write appends at the sequence just read, so of two callers
 * racing for a key exactly one wins; the loser re-reads and reports what won.
 * The original key is stored in every record, so a different key hashing into
 * the same stream is detected (`DedupCollisionError`), never confused.
 */
export class DedupCache {
  /**
   * Keys this cache claimed and has not completed or released yet, with the
   * stream length right after the claim: `completeReceipt` appends there
   * without reading the stream first. Any write since (a release, a racer)
   * makes that append conflict, and the normal read-then-decide path runs.
   * (What the skipped read could have caught and the append cannot: a sweep
   * of our claim, then a *different* key with the same FNV-64 hash claiming
   * the stream again. That key's own next read reports the collision.)
   */
  readonly #claimed = new Map<string, number>();

  constructor(
    readonly store: DurableStore,
    readonly namespace: string,
  ) {
    assertName('namespace', namespace);
  }

  streamFor(key: string): string {
    return storeKey('dedup', this.namespace, keyHash(key));
  }

  /** The current decision without writing anything; `undefined` when the key is absent or released. */
  async lookup(key: string): Promise<DedupDecision | undefined> {
    assertName('key', key);
    const view = await this.#load(key);
    return view.current && decisionFor(view.current);
  }

  /** Claims an absent (or released) key, or reports the receipt / in-flight claim already there. */
  async claimOrGet(key: string, nowMs: number): Promise<DedupDecision> {
    assertName('key', key);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const view = await this.#load(key);
    if (view.current) return decisionFor(view.current);
    try {
      await this.store.append(this.streamFor(key), codec.encode({ kind: 'dedupClaim', key, timestampMs: nowMs }), view.nextSeq);
      this.#remember(key, view.nextSeq + 1);
      return { kind: 'claimed' };
    } catch (error) {
      if (!(error instanceof SequenceConflictError)) throw error;
      // Another caller wrote first: report its claim or receipt. If it was a
      // release, the key is free again but not ours, so the conflict stands.
      const after = await this.#load(key);
      if (after.current) return decisionFor(after.current);
      throw error;
    }
  }

  /**
   * Stores the receipt of a claimed key. The same receipt again is a no-op;
   * a different receipt, or no claim (absent or released key), is a
   * `DedupCollisionError`. `nowMs` (default: now) anchors the entry's TTL.
   */
  async completeReceipt(key: string, receipt: Uint8Array, nowMs: number = Date.now()): Promise<void> {
    assertName('key', key);
    assertPayload('receipt', receipt);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const record = codec.encode({ kind: 'dedupReceipt', key, receipt, timestampMs: nowMs });
    const afterClaim = this.#claimed.get(key);
    if (afterClaim !== undefined) {
      this.#claimed.delete(key);
      try {
        await this.store.append(this.streamFor(key), record, afterClaim);
        return;
      } catch (error) {
        if (!(error instanceof SequenceConflictError)) throw error;
        // Written to since our claim: decide from what is there now, below.
      }
    }
    const view = await this.#load(key);
    if (view.current === undefined) throw new DedupCollisionError(key, 'missingClaim');
    if (view.current.kind === 'dedupReceipt') {
      if (sameBytes(view.current.receipt, receipt)) return;
      throw new DedupCollisionError(key, 'differentReceipt');
    }
    try {
      await this.store.append(this.streamFor(key), record, view.nextSeq);
    } catch (error) {
      if (!(error instanceof SequenceConflictError)) throw error;
      const after = await this.#load(key);
      if (after.current?.kind === 'dedupReceipt' && sameBytes(after.current.receipt, receipt)) return;
      throw error;
    }
  }

  /**
   * Gives up an in-flight claim (processing failed before a receipt) by
   * appending a tombstone, so the key can be claimed again. Never touches a
   * receipt: a completed or absent key is a no-op, which keeps at-most-once.
   */
  async releaseClaim(key: string, nowMs: number = Date.now()): Promise<void> {
    assertName('key', key);
    assertNonNegativeSafeInteger('nowMs', nowMs);
    this.#claimed.delete(key);
    const view = await this.#load(key);
    if (view.current === undefined || view.current.kind === 'dedupReceipt') return;
    try {
      await this.store.append(this.streamFor(key), codec.encode({ kind: 'dedupTombstone', key, timestampMs: nowMs }), view.nextSeq);
    } catch (error) {
      if (!(error instanceof SequenceConflictError)) throw error;
      // Released or completed meanwhile: the claim is gone, which is the goal.
      // A fresh claim won the race instead: it is not ours to clobber.
      const { latest } = await this.#load(key);
      if (latest?.kind === 'dedupTombstone' || latest?.kind === 'dedupReceipt') return;
      throw error;
    }
  }

  /** Bounded: claims that are never completed or released (a crashed handler) must not pile up. */
  #remember(key: string, nextSeq: number): void {
    this.#claimed.delete(key);
    this.#claimed.set(key, nextSeq);
    if (this.#claimed.size > MAX_REMEMBERED_CLAIMS) this.#claimed.delete(this.#claimed.keys().next().value!);
  }

  async #load(key: string): Promise<StreamView> {
    const records = await readDedupRecords(this.store, this.streamFor(key));
    if (records.some((record) => record.key !== key)) throw new DedupCollisionError(key, 'hashCollision');
    const latest = records.at(-1);
    return { latest, current: latest?.kind === 'dedupTombstone' ? undefined : latest, nextSeq: records.length };
  }
}

function decisionFor(record: ActiveRecord): DedupDecision {
  return record.kind === 'dedupReceipt' ? { kind: 'completed', receipt: new Uint8Array(record.receipt) } : { kind: 'inFlight' };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
