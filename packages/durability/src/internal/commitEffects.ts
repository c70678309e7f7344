import { CommitConflictError, InvalidArgumentError, SequenceConflictError, type CasOp, type WriteOp } from '@liminal/store';
import type { ClaimToken, DedupCache } from '../DedupCache.js';
import { ClaimLostError, ConditionFailedError, EffectConflictError } from '../errors.js';
import { fencesOf } from './ClaimFences.js';
import { completeOps, inFlightClaim, isAmbiguous, readHead, tokenState, unclaimedReceiptOp, type Fence } from './dedupEntry.js';
import type { EffectBuffer, EffectOps } from './EffectBuffer.js';
import type { StreamLengths } from './StreamLengths.js';

/** Each retry follows another writer's successful append to an effect stream (or move of the cursor). */
const MAX_ROUNDS = 64;

/** One key's work: the handler's effects and the receipt to store under its claim. */
export interface ClaimedUnit {
  readonly key: string;
  /**
   * The key's claim. `undefined` only when the commit's conditions alone keep
   * every other writer of the key out (a worker group's lease check): the
   * receipt then needs the key's head to be empty, so a key done or held by
   * anyone before stops the commit there (`found`).
   */
  readonly token: ClaimToken | undefined;
  readonly tx: EffectBuffer;
  readonly receipt: Uint8Array;
}

/** What one commit of exactly-once work carries, besides its units' effects and receipts. */
export interface ClaimedWork {
  readonly cache: DedupCache;
  /** In order: a later unit's effects see the earlier units' appends, and a prefix of them may commit alone. */
  readonly units: readonly ClaimedUnit[];
  readonly nowMs: number;
  readonly lengths: StreamLengths;
  /** Caller's extra ops (fencing checks), once for the whole commit; a failure is `ConditionFailedError { index }`. */
  readonly conditions: readonly WriteOp[];
  /** Built anew for each attempt (a cursor advance), given how many units it commits; `undefined` for none. */
  readonly advance?: (units: number) => CasOp | undefined;
  /** The `advance` op conflicted (another writer moved the counter): refresh before the next attempt. */
  readonly onAdvanceConflict?: () => Promise<void>;
  /**
   * Claims of the caller's next keys, taken in the same commit so that the
   * next unit of work needs no commit of its own. They ride along only while
   * they hold, and only with every unit: if one conflicts (someone else
   * claimed or finished that key) or a unit is left out, the work is
   * committed without them. `landed` is told when they were committed.
   */
  readonly claimAhead?: { readonly ops: readonly WriteOp[]; readonly landed: () => void };
}

/** What `commitClaimedWork` committed. */
export interface CommittedWork {
  /** How many units (a prefix of `units`) were committed: all of them unless `failure` is set. */
  readonly units: number;
  /** The advance op that was committed, if any. */
  readonly advance: CasOp | undefined;
  /** The unit right after the committed prefix had an effect that conflicted: it and the rest were not written, their claims released. */
  readonly failure?: EffectConflictError;
  /** The unclaimed unit right after the committed prefix was found done or claimed already: it and the rest were not written, their claims released. */
  readonly found?: true;
}

/**
 * The one exactly-once path: commits claimed keys' effects, their receipts
 * (each conditional on its claim's fence) and the caller's conditions and
 * advance in ONE store commit, so they all happen or none does.
 *
 * Rejects with `ClaimLostError` (a token was fenced; nothing written), or
 * with `ConditionFailedError` / `EffectConflictError` of the first unit /
 * the store's error after releasing the claims (nothing was written, so the
 * keys may be retried at once). When a later unit's effect conflicts, the
 * units before it are committed without it and the result names the
 * failure (or, for an unclaimed unit whose key was done or held, `found`).
 * An unknown outcome is resolved by reading back the last unit's receipt
 * (found under its token means committed: all units were) or, for an
 * unclaimed one, the advance's counter; with neither it is rethrown (the
 * caller resumes from its stored cursor, which tells).
 */
export async function commitClaimedWork(work: ClaimedWork): Promise<CommittedWork> {
  const { cache, conditions } = work;
  const { store } = cache;
  let units = work.units;
  if (units.length === 0) throw new InvalidArgumentError('units', 'expected at least one claimed unit');
  let stop: Pick<CommittedWork, 'failure' | 'found'> = {};
  let ahead = work.claimAhead;
  const dropFrom = async (index: number, why: typeof stop) => {
    await releaseAll(cache, units.slice(index));
    units = units.slice(0, index);
    stop = why;
    ahead = undefined;
  };
  const fences = new Map<string, Fence>();
  for (const { key, token } of units) if (token !== undefined) fences.set(token, fencesOf(cache).fenceOf(token) ?? (await heldFence(cache, key, token)));
  await work.lengths.load(store, new Set(units.flatMap(({ tx }) => [...tx.streams()])));
  for (let round = 0; ; round++) {
    if (units.length === 0) return { units: 0, advance: undefined, ...stop };
    const settles = units.map(({ key, token, receipt }) =>
      token === undefined
        ? [unclaimedReceiptOp(cache.namespace, key, receipt, work.nowMs)]
        : completeOps(cache.namespace, key, token, fences.get(token)!, receipt, work.nowMs),
    );
    const settledBy = settles.flatMap((ops, unit) => ops.map(() => unit));
    const effects = effectOpsOf(units, work.lengths);
    const advance = work.advance?.(units.length);
    const advanceOps = advance === undefined ? [] : [advance];
    const settleOps = settles.flat();
    const effectOps = effects.flatMap(({ ops }) => ops);
    const ops = [...conditions, ...settleOps, ...effectOps, ...advanceOps, ...(ahead?.ops ?? [])];
    const landed = (): CommittedWork => {
      for (const { token } of units) if (token !== undefined) fencesOf(cache).forget(token);
      for (const { appends } of effects) for (const { stream, expectedSeq, count } of appends) work.lengths.set(stream, expectedSeq + count);
      return { units: units.length, advance, ...stop };
    };
    try {
      await store.commit(ops);
      ahead?.landed();
      return landed();
    } catch (error) {
      // Unknown outcomes leave the claims ahead unknown too: they are not recorded, and a claim that did land is
      // taken over by the same owner's next claimOrGet (or expires).
      if (isAmbiguous(error)) {
        const last = units.at(-1)!;
        if (last.token === undefined) {
          if (advance !== undefined && (await store.readValue(advance.key).catch(() => undefined)) === advance.next) return landed();
          throw error;
        }
        const records = await readHead(store, cache.streamFor(last.key)).catch(() => undefined);
        const latest = records?.at(-1);
        if (latest?.kind === 'dedupReceipt' && latest.token === last.token) return landed();
        if (records !== undefined && inFlightClaim(records)?.token === last.token) await releaseAll(cache, units);
        throw error;
      }
      if (!(error instanceof CommitConflictError) || round >= MAX_ROUNDS) {
        await releaseAll(cache, units);
        throw error;
      }
      let index = error.index;
      if (index < conditions.length) {
        await releaseAll(cache, units);
        throw new ConditionFailedError(index, error.cause);
      }
      index -= conditions.length;
      if (index < settleOps.length) {
        const unit = settledBy[index]!;
        const { key, token } = units[unit]!;
        if (token !== undefined) {
          // Its claim is gone, or only the epoch moved (another head of its bucket was removed): read which.
          fences.set(token, await heldFence(cache, key, token));
          continue;
        }
        await dropFrom(unit, { found: true }); // someone did or holds that key: commit the units before it
        continue;
      }
      index -= settleOps.length;
      if (index >= effectOps.length) {
        if (index - effectOps.length < advanceOps.length) await work.onAdvanceConflict?.();
        else ahead = undefined; // a next key is held or done by someone else: commit the work without claiming ahead
        continue;
      }
      let unit = 0;
      while (index >= effects[unit]!.ops.length) index -= effects[unit++]!.ops.length;
      const op = effects[unit]!.ops[index]!;
      if (op.op === 'append' && error.cause instanceof SequenceConflictError) {
        // Someone else appended to the effect stream: go after them (the op's expectedSeq counted this commit's earlier appends).
        work.lengths.set(op.stream, error.cause.actual - (op.expectedSeq - work.lengths.get(op.stream)));
        continue;
      }
      const conflict = new EffectConflictError(effects[unit]!.effectIndex[index]!, error.cause);
      if (unit === 0) {
        await releaseAll(cache, units);
        throw conflict;
      }
      await dropFrom(unit, { failure: conflict });
    }
  }
}

/** Each unit's effect ops, the appends of a unit expecting the lengths its predecessors in the commit leave. */
function effectOpsOf(units: readonly ClaimedUnit[], lengths: StreamLengths): EffectOps[] {
  const grown = new Map<string, number>();
  return units.map(({ tx }) => {
    const effects = tx.ops((stream) => grown.get(stream) ?? lengths.get(stream));
    for (const { stream, expectedSeq, count } of effects.appends) grown.set(stream, expectedSeq + count);
    return effects;
  });
}

/** The fence of the claim `token` still holds on `key`, read from the store; `ClaimLostError` when it holds none. */
async function heldFence(cache: DedupCache, key: string, token: string): Promise<Fence> {
  const state = await tokenState(cache.store, cache.namespace, key, token);
  fencesOf(cache).observe(key, state.epoch);
  if (state.kind !== 'held') throw new ClaimLostError(cache.namespace, key);
  return state.fence;
}

/** Nothing was written: let anyone claim the key again. If this fails too, the claim just expires after its lease. */
export async function release(work: { readonly cache: DedupCache; readonly key: string; readonly token: ClaimToken }): Promise<void> {
  await work.cache.releaseClaim(work.key, { token: work.token }).catch(() => undefined);
}

/** `release` of each claimed unit's claim. */
export async function releaseAll(cache: DedupCache, units: readonly Pick<ClaimedUnit, 'key' | 'token'>[]): Promise<void> {
  await Promise.all(units.flatMap(({ key, token }) => (token === undefined ? [] : [release({ cache, key, token })])));
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
