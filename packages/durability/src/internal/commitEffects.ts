import { CommitConflictError, InvalidArgumentError, SequenceConflictError, type CasOp, type WriteOp } from '@liminal/store';
import type { ClaimToken, DedupCache } from '../DedupCache.js';
import { ClaimLostError, ConditionFailedError, EffectConflictError } from '../errors.js';
import { completeOps, inFlightClaim, isAmbiguous, readHead } from './dedupEntry.js';
import type { EffectBuffer } from './EffectBuffer.js';
import type { StreamLengths } from './StreamLengths.js';

/** Each retry follows another writer's successful append to an effect stream (or move of the cursor). */
const MAX_ROUNDS = 64;

/** What one exactly-once unit of work commits, besides its effects. */
export interface ClaimedWork {
  readonly cache: DedupCache;
  readonly key: string;
  readonly token: ClaimToken;
  readonly tx: EffectBuffer;
  readonly receipt: Uint8Array;
  readonly nowMs: number;
  readonly lengths: StreamLengths;
  /** Caller's extra ops (fencing checks); a failure is `ConditionFailedError { index }`. */
  readonly conditions: readonly WriteOp[];
  /** Built anew for each attempt (a cursor advance); `undefined` for none. */
  readonly advance?: () => CasOp | undefined;
  /** The `advance` op conflicted (another writer moved the counter): refresh before the next attempt. */
  readonly onAdvanceConflict?: () => Promise<void>;
  /**
   * A claim of the caller's next key, taken in the same commit so that the
   * next unit of work needs no commit of its own. It rides along only while
   * it holds: if it conflicts (someone else claimed or finished that key) the
   * work is committed without it. `landed` is told when it was committed.
   */
  readonly claimAhead?: { readonly ops: readonly WriteOp[]; readonly landed: () => void };
}

/**
 * The one exactly-once path: commits a claimed key's effects, its receipt
 * (conditional on the claim's fence) and the caller's conditions and advance
 * in ONE store commit, so they all happen or none does.
 *
 * Returns the advance op that was committed (if any). Rejects with
 * `ClaimLostError` (the token was fenced; nothing written), or with
 * `ConditionFailedError` / `EffectConflictError` / the store's error after
 * releasing the claim (nothing was written, so the key may be retried at
 * once). An unknown outcome is resolved by reading the receipt back: found
 * under this token means committed.
 */
export async function commitClaimedWork(work: ClaimedWork): Promise<CasOp | undefined> {
  const { cache, key, token, tx, conditions } = work;
  const { store } = cache;
  const settle = completeOps(cache.namespace, key, token, work.receipt, work.nowMs);
  await work.lengths.load(store, tx.streams());
  let ahead = work.claimAhead;
  for (let round = 0; ; round++) {
    const effects = tx.ops((stream) => work.lengths.get(stream));
    const advance = work.advance?.();
    const advanceOps = advance === undefined ? [] : [advance];
    const ops = [...conditions, ...settle, ...effects.ops, ...advanceOps, ...(ahead?.ops ?? [])];
    const landed = (): CasOp | undefined => {
      for (const { stream, expectedSeq, count } of effects.appends) work.lengths.set(stream, expectedSeq + count);
      return advance;
    };
    try {
      await store.commit(ops);
      ahead?.landed();
      return landed();
    } catch (error) {
      // Unknown outcomes leave the claim ahead unknown too: it is not recorded, and a claim that did land is
      // taken over by the same owner's next claimOrGet (or expires).
      if (isAmbiguous(error)) {
        const records = await readHead(store, cache.streamFor(key)).catch(() => undefined);
        const latest = records?.at(-1);
        if (latest?.kind === 'dedupReceipt' && latest.token === token) return landed();
        if (records !== undefined && inFlightClaim(records)?.token === token) await release(work);
        throw error;
      }
      if (!(error instanceof CommitConflictError) || round >= MAX_ROUNDS) {
        await release(work);
        throw error;
      }
      let index = error.index;
      if (index < conditions.length) {
        await release(work);
        throw new ConditionFailedError(index, error.cause);
      }
      index -= conditions.length;
      if (index < settle.length) throw new ClaimLostError(cache.namespace, key);
      index -= settle.length;
      const op = effects.ops[index];
      if (op === undefined) {
        if (index - effects.ops.length < advanceOps.length) await work.onAdvanceConflict?.();
        else ahead = undefined; // the next key is held or done by someone else: commit the work without claiming it
        continue;
      }
      if (op.op === 'append' && error.cause instanceof SequenceConflictError) {
        work.lengths.set(op.stream, error.cause.actual); // someone else appended to the effect stream: go after them
        continue;
      }
      await release(work);
      throw new EffectConflictError(effects.effectIndex[index]!, error.cause);
    }
  }
}

/** Nothing was written: let anyone claim the key again. If this fails too, the claim just expires after its lease. */
export async function release(work: Pick<ClaimedWork, 'cache' | 'key' | 'token'>): Promise<void> {
  await work.cache.releaseClaim(work.key, { token: work.token }).catch(() => undefined);
}

/** `conditions` of `processOnce` / `runOnce`: store `WriteOp`s (the store validates them in full). */
export function validConditions(options: { readonly conditions?: readonly WriteOp[] }): readonly WriteOp[] {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
  const { conditions = [] } = options;
  // Checked as unknown: Array.isArray would narrow the typed ops to any[].
  const given: unknown = conditions;
  if (!Array.isArray(given)) throw new InvalidArgumentError('options.conditions', 'expected an array of WriteOp');
  conditions.forEach((op: WriteOp, index) => {
    if (!['append', 'cas', 'check', 'deleteStream'].includes(op?.op)) {
      throw new InvalidArgumentError(`options.conditions[${index}]`, 'expected a WriteOp (append, cas, check or deleteStream)');
    }
  });
  return conditions;
}
