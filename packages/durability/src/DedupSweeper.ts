import { assertNonNegativeSafeInteger, CommitConflictError, ConfigError, DecodeError, type WriteOp } from '@liminal/store';
import { DedupCache } from './DedupCache.js';
import { inFlightClaim, readHead, removeClaimOps, type DedupRecord } from './internal/dedupEntry.js';
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

/**
 * Bounds a `DedupCache`'s storage. It removes exactly two kinds of entries:
 * completed ones whose receipt is older than `ttlMs` (the dedup window: a key
 * swept away can be claimed, and a message published, again), and claims
 * whose lease expired (their owner died or overran; removing one fences its
 * token like a takeover does). A live claim is never touched. Every removal is
 * a conditional delete of exactly the records the sweeper read, so an entry
 * written to after it looked (a completion, a takeover) is kept.
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
        if (await this.#removeIfExpired(stream, nowMs)) removed++;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < SWEEP_PAGE_SIZE) break;
      after = last;
    }
    return { scanned, removed, kept: scanned - removed };
  }

  async #removeIfExpired(stream: string, nowMs: number): Promise<boolean> {
    let records: DedupRecord[];
    try {
      records = await readHead(this.cache.store, stream);
    } catch (error) {
      if (error instanceof DecodeError) return false;
      throw error;
    }
    const ops = this.#removal(stream, records, nowMs);
    if (ops === undefined) return false;
    try {
      await this.cache.store.commit(ops);
      return true;
    } catch (error) {
      if (error instanceof CommitConflictError) return false; // written to since we read it: keep
      throw error;
    }
  }

  #removal(stream: string, records: readonly DedupRecord[], nowMs: number): WriteOp[] | undefined {
    const latest = records.at(-1);
    if (latest === undefined) return undefined;
    const claim = inFlightClaim(records);
    if (claim !== undefined) return nowMs >= claim.expiresAtMs ? removeClaimOps(this.cache.namespace, claim, records.length) : undefined;
    if (latest.kind !== 'dedupReceipt' || nowMs - latest.timestampMs <= this.ttlMs) return undefined;
    return [{ op: 'deleteStream', stream, expectedLength: records.length }];
  }
}
