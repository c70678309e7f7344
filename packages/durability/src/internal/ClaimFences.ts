import { keyHash } from '../keyHash.js';
import type { WriteOp } from '@liminal/store';
import type { DedupClaimRecord } from '../codec.js';
import { newClaim, type Fence } from './dedupEntry.js';

/** Enough for the claims one process holds at once; forgetting one costs a read when it is settled. */
const CAPACITY = 4096;

/**
 * What one DedupCache knows about fences without reading: the highest removal
 * epoch it has seen per bucket, and the fence of each claim it took. A claim
 * records the epoch seen *before* its commit; since epochs only grow, a
 * `check` of that value holds later only if no head of the bucket was deleted
 * in between. An epoch never seen counts as 0, which is below every real one,
 * so it can only make a check fail (then the claim is read back), never pass
 * wrongly. A forgotten or stale fence costs one read of the entry, never a
 * wrong write.
 */
export class ClaimFences {
  readonly #epochs = new Map<string, number>();
  readonly #fences = new Map<string, Fence>();

  /** The highest epoch seen for `key`'s bucket: what a claim committed now may be fenced with. */
  epochFor(key: string): number {
    return this.#epochs.get(keyHash(key).slice(0, 2)) ?? 0;
  }

  /** `epoch` was read (or written) for `key`'s bucket. */
  observe(key: string, epoch: number): void {
    const bucket = keyHash(key).slice(0, 2);
    if (epoch > (this.#epochs.get(bucket) ?? 0)) this.#epochs.set(bucket, epoch);
  }

  remember(token: string, fence: Fence): void {
    this.#fences.delete(token);
    this.#fences.set(token, fence);
    if (this.#fences.size > CAPACITY) this.#fences.delete(this.#fences.keys().next().value!);
  }

  fenceOf(token: string): Fence | undefined {
    return this.#fences.get(token);
  }

  forget(token: string): void {
    this.#fences.delete(token);
  }
}

const registry = new WeakMap<object, ClaimFences>();

/** The fences known to `cache` (a DedupCache), shared by its own methods and the channel code writing under its tokens. */
export function fencesOf(cache: object): ClaimFences {
  let fences = registry.get(cache);
  if (fences === undefined) registry.set(cache, (fences = new ClaimFences()));
  return fences;
}

/**
 * A fresh claim for a caller that commits its ops itself (with other work):
 * fenced by the epoch `cache` has seen before that commit is sent. Call
 * `landed` once the commit is known to have landed.
 */
export function fencedClaim(
  cache: { readonly namespace: string },
  key: string,
  owner: string,
  nowMs: number,
  leaseMs: number,
): { readonly record: DedupClaimRecord; readonly ops: WriteOp[]; readonly landed: () => void } {
  const fences = fencesOf(cache);
  const fence: Fence = { kind: 'epoch', epoch: fences.epochFor(key) };
  const { record, ops } = newClaim(cache.namespace, key, owner, nowMs, leaseMs);
  return { record, ops, landed: () => fences.remember(record.token, fence) };
}
