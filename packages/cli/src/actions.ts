import { DedupCache, readDedupKey, type ClaimToken } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { NotFoundError, UsageError } from './errors.js';

/** What `liminal release` did. */
export interface ReleasedClaim {
  readonly namespace: string;
  readonly key: string;
  readonly owner: string;
  readonly expiresAtMs: number;
}

/**
 * Releases the claim on `key` if its lease has expired at `nowMs`, so the key
 * can be claimed again. The release is `DedupCache.releaseClaim` with the
 * claim's token: one store commit conditional on that token still holding
 * the claim, so a worker that completed or took the key over meanwhile wins
 * and nothing is written (`ClaimLostError`). A live lease is refused: its
 * owner may still be working.
 */
export async function releaseExpiredClaim(store: DurableStore, namespace: string, key: string, nowMs: number): Promise<ReleasedClaim> {
  const entry = await readDedupKey(store, namespace, key);
  if (entry === undefined) throw new NotFoundError('claim', key);
  if (entry.state !== 'claimed') throw new UsageError(`key ${JSON.stringify(key)} is completed, not in flight: there is no claim to release`);
  if (nowMs < entry.expiresAtMs) {
    throw new UsageError(`the claim of ${entry.owner} on ${JSON.stringify(key)} is live until ${new Date(entry.expiresAtMs).toISOString()}; release only expired claims`);
  }
  await new DedupCache(store, namespace).releaseClaim(key, { token: entry.token as ClaimToken });
  return { namespace, key, owner: entry.owner, expiresAtMs: entry.expiresAtMs };
}
