import { assertNonNegativeSafeInteger, CommitConflictError, ConfigError, DecodeError, type WriteOp } from '@liminal/store';
import { DedupCache } from './DedupCache.js';
import { fencesOf } from './internal/ClaimFences.js';
import { readEntry, removeClaimOps, removeOps, type EntryState } from './internal/dedupEntry.js';
import { keyHash } from './keyHash.js';
import { storeKeyPrefix } from './storeKey.js';

export interface DedupSweepReport {
  /** Dedup streams of the namespace looked at. */
  readonly scanned: number;
  readonly removed: number;
  /** Fresh entries, plus streams that do not decode (left untouched for an operator). */
  readonly kept: number;
}

/** Names are listed this many at a time, so a large namespace is never loaded at once. */
export const SWEEP_PAGE_SIZE = 256;

const HASH_SUFFIX = /^[0-9a-f]{16}$/;

/** Each retry of one entry follows another removal in its bucket (which moved the epoch the removal is conditional on). */
const MAX_ROUNDS = 8;

/**
 * Bounds a `DedupCache`'s storage. It removes exactly two kinds of entries:
 * completed ones whose receipt is older than `ttlMs` (the dedup window: a key
 * swept away can be claimed, and a message published, again), and claims
 * whose lease expired (their owner died or overran; removing one fences its
 * token like a takeover does). A live claim is never touched. Every removal is
 * a conditional delete of exactly the records the sweeper read, so an entry
 * written to after it looked (a completion, a takeover) is kept; it moves the
 * bucket's removal epoch like every deletion of a head, which fences the
 * removed claim's token (see `internal/dedupEntry.ts`).
 */
export class DedupSweeper {
  constructor(
    readonly cache: DedupCache,
    readonly ttlMs: number,
  ) {
    if (!(cache instanceof DedupCache)) throw new ConfigError('DedupSweeper needs a DedupCache');
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 0) throw new ConfigError(`ttlMs must be a non-negative safe integer, got ${ttlMs}`);
  }

  async sweep(nowMs: number): Promise<DedupSweepReport> {
    assertNonNegativeSafeInteger('nowMs', nowMs);
    const { store, namespace } = this.cache;
    const prefix = storeKeyPrefix('dedup', namespace);
    let scanned = 0;
    let removed = 0;
    let after: string | undefined;
    for (;;) {
      const page = await store.listStreams(prefix, after === undefined ? { limit: SWEEP_PAGE_SIZE } : { after, limit: SWEEP_PAGE_SIZE });
      for (const stream of page) {
        // Only `dedup/<namespace>/<hash>` names are entries; anything else under the prefix is left alone.
        if (!HASH_SUFFIX.test(stream.slice(prefix.length))) continue;
        scanned++;
        if (await this.#removeIfExpired(stream.slice(prefix.length), nowMs)) removed++;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < SWEEP_PAGE_SIZE) break;
      after = last;
    }
    return { scanned, removed, kept: scanned - removed };
  }

  async #removeIfExpired(hash: string, nowMs: number): Promise<boolean> {
    const { store, namespace } = this.cache;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let state: EntryState;
      try {
        state = await readEntry(store, namespace, hash);
      } catch (error) {
        if (error instanceof DecodeError) return false;
        throw error;
      }
      // A record of another key (a hash collision, or a planted record) is left for an operator, like a malformed one.
      if (state.records.some((record) => keyHash(record.key) !== hash)) return false;
      const ops = this.#removal(state, nowMs);
      if (ops === undefined) return false;
      try {
        await store.commit(ops);
        fencesOf(this.cache).observe(state.records[0]!.key, state.epoch + 1);
        return true;
      } catch (error) {
        if (!(error instanceof CommitConflictError)) throw error;
        if (error.index < ops.length - 1) return false; // the entry was written to since we read it: keep
        // Only the epoch moved (another head of the bucket was removed meanwhile): read this one again.
      }
    }
    return false;
  }

  #removal(state: EntryState, nowMs: number): WriteOp[] | undefined {
    const { records, claim, epoch } = state;
    const latest = records.at(-1);
    if (latest === undefined) return undefined;
    if (claim !== undefined) return nowMs >= claim.record.expiresAtMs ? removeClaimOps(this.cache.namespace, epoch, claim) : undefined;
    if (latest.kind !== 'dedupReceipt' || nowMs - latest.timestampMs <= this.ttlMs) return undefined;
    return removeOps(this.cache.namespace, latest.key, records.length, epoch);
  }
}
