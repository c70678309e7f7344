import { cancelConversation, ConversationActionRefusedError, retryConversation, type ConversationActionResult } from '@liminal/actors';
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

/**
 * `liminal retry` / `liminal cancel`: @liminal/actors' `retryConversation` /
 * `cancelConversation`, each one store `commit` conditional on the journal
 * length (and index counters) it read, so a live worker that wrote meanwhile
 * makes it fail with `ConcurrentChangeError` (exit 1) and nothing is written.
 * A conversation the action does not apply to is bad input (exit 2).
 */
export async function conversationAction(store: DurableStore, action: 'retry' | 'cancel', id: string, nowMs: number): Promise<ConversationActionResult> {
  try {
    return await (action === 'retry' ? retryConversation : cancelConversation)(store, id, { now: () => nowMs });
  } catch (error) {
    if (!(error instanceof ConversationActionRefusedError)) throw error;
    if (error.refusal === 'notFound') throw new NotFoundError('conversation', id);
    throw new UsageError(error.message);
  }
}
