import { assertNonNegativeSafeInteger, ConfigError, DecodeError } from '@liminal/store';
import { DedupCache } from './DedupCache.js';
import { readDedupRecords } from './internal/dedupRecords.js';
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
 * Bounds a `DedupCache`'s storage: removes every entry whose latest record
 * (claim, receipt or tombstone) is older than `ttlMs`. The TTL is the dedup
 * window: a key swept away can be claimed (and a message published) again.
 * An abandoned in-flight claim expires the same way.
 *
 * The store has no conditional delete, so an entry written between the
 * sweeper's read and its delete is lost with it; the sweeper re-checks the
 * stream length right before deleting to keep that window to one round trip.
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
    const { store } = this.cache;
    let records;
    try {
      records = await readDedupRecords(store, stream);
    } catch (error) {
      if (error instanceof DecodeError) return false;
      throw error;
    }
    const latest = records.at(-1);
    if (latest === undefined || nowMs - latest.timestampMs <= this.ttlMs) return false;
    if ((await store.streamLength(stream)) !== records.length) return false;
    await store.deleteStream(stream);
    return true;
  }
}
