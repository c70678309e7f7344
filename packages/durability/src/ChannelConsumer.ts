import { assertPayload, assertPositiveSafeInteger, CasConflictError, CommitConflictError, InvalidArgumentError, type DurableStore, type WriteOp } from '@liminal/store';
import type { CheckpointDriver } from './CheckpointDriver.js';
import { codec } from './codec.js';
import type { ConsumerCursor } from './ConsumerCursor.js';
import type { ClaimToken, DedupCache } from './DedupCache.js';
import type { EffectTx, OnceOutcome } from './EffectTx.js';
import { ConditionFailedError } from './errors.js';
import { commitClaimedWork, release, releaseAll, validConditions, type ClaimedUnit, type CommittedWork } from './internal/commitEffects.js';
import { fencedClaim } from './internal/ClaimFences.js';
import { isAmbiguous } from './internal/dedupEntry.js';
import { EffectBuffer } from './internal/EffectBuffer.js';
import { StreamLengths } from './internal/StreamLengths.js';
import { storeKey } from './storeKey.js';

/** One delivered channel message. `offset` is its position in the partition. */
export interface ChannelEnvelope {
  /** Unique per published message; derived from the publish's idempotency key when it had one. */
  readonly messageId: string;
  /** Stable per (channel, consumer, message): give it to external APIs that take idempotency keys. */
  readonly idempotencyKey: string;
  /** The id of the message that caused this one, if the publisher said. */
  readonly causationId?: string;
  /** W3C trace context of the publisher, if any. */
  readonly traceparent?: string;
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
  readonly payload: Uint8Array;
  /** Epoch milliseconds at publish. */
  readonly publishedAt: number;
}

/**
 * What `processOnce` did with an envelope. On `inFlight`, `position` moved
 * back to the message, so a later `poll` delivers it again.
 */
export type ProcessOutcome = OnceOutcome;

/** The handler's optional return value is stored as the message's receipt. */
export type MessageHandler = (envelope: ChannelEnvelope, tx: EffectTx) => Promise<Uint8Array | void> | Uint8Array | void;

export interface ProcessOptions {
  /**
   * Extra ops committed with the effects (e.g. a lease-epoch `check`). If one
   * fails, nothing is written and `processOnce` rejects with
   * `ConditionFailedError { index }` (`index` into this list).
   */
  readonly conditions?: readonly WriteOp[];
}

export interface BatchOptions extends ProcessOptions {
  /**
   * The `conditions` alone keep every other processor of this partition out
   * (a worker group's lease check, which a new holder bumps), so the batch
   * takes no claims: each receipt is written where the message's dedup entry
   * is still empty, and the batch costs ONE commit in all, none before its
   * handlers run. A message found done or claimed when the batch commits has
   * its work dropped (its handler ran; its effects are not written), the
   * messages before it are committed, and it and the rest go through
   * `processOnce`. Default false.
   */
  readonly exclusive?: boolean;
}

export interface PollOptions {
  /** Move the scheduled messages due now into the partition first. Default true. */
  readonly promoteDue?: boolean;
}

/** Parts of a `DurableChannel` a consumer needs (kept narrow to avoid an import cycle). */
export interface ConsumerSource {
  readonly store: DurableStore;
  readonly channel: string;
  readonly partition: number;
  readonly stream: string;
  /**
   * Moves the partition's scheduled messages due at `nowMs` (at most
   * `limit`) into its stream; returns when the next one is due
   * (`DurableChannel.promoteDue`).
   */
  readonly promoteDue: (nowMs: number, limit: number) => Promise<number | undefined>;
}

/** Who a consumer claims messages as, and for how long. */
export interface ConsumerIdentity {
  readonly owner: string;
  readonly leaseMs: number;
  /**
   * Whether each work commit also claims the next polled message (see
   * `processOnce`). Only for an owner the caller chose: a restart under it
   * takes such a claim over at once, where a random owner's leftover claim
   * would hold its message for a lease.
   */
  readonly claimAhead: boolean;
  /** Epoch milliseconds (claims, receipts); injected by tests. */
  readonly clock: () => number;
}

const EMPTY_RECEIPT = new Uint8Array(0);
/** Each retry follows another instance's successful move of the cursor. */
const MAX_COMMIT_ROUNDS = 64;

/**
 * Reads one partition for one consumer, from its stored cursor onwards, and
 * processes each message exactly once with `processOnce`.
 *
 * Delivery is at-least-once (whatever was not checkpointed is delivered again
 * after a restart). `processOnce` claims the message in the `DedupCache`
 * `processed` (owner-fenced, with a lease), runs the handler, and commits the
 * handler's `EffectTx` writes, the receipt and the cursor advance in one
 * store `commit`. Several instances (processes) may consume one partition
 * under the same consumer id: each message is claimed by one of them at a
 * time, and a commit under a lost claim writes nothing.
 *
 * Concurrent `processOnce` calls on one consumer are supported: handlers run
 * concurrently, their commits are serialised, and the cursor only ever moves
 * over the contiguous run of processed offsets (see `CheckpointDriver`).
 */
export class ChannelConsumer implements AsyncIterable<ChannelEnvelope> {
  /** The record of processed message ids; bound its size with a `DedupSweeper`. */
  readonly processed: DedupCache;
  readonly #lengths = new StreamLengths();
  /** The last poll's envelopes: where the next message to claim ahead is found. */
  #polled: readonly ChannelEnvelope[] = [];
  /** Offsets inside `processOnce` now (never claimed ahead: they hold or seek their own claim). */
  readonly #active = new Set<number>();
  /** Claims taken ahead by a work commit, by message id, not yet used by `processOnce`. */
  readonly #ahead = new Map<string, { readonly token: ClaimToken; readonly expiresAtMs: number }>();
  #position: number;
  #nextDueAt: number | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly source: ConsumerSource,
    readonly cursor: ConsumerCursor,
    readonly driver: CheckpointDriver,
    readonly batchSize: number,
    processed: DedupCache,
    readonly identity: ConsumerIdentity,
  ) {
    this.processed = processed;
    this.#position = cursor.currentOffset;
  }

  get consumerId(): string {
    return this.cursor.consumerId;
  }

  get partition(): number {
    return this.source.partition;
  }

  /** The offset the next `poll` reads from (ahead of the cursor by what was polled and not committed). */
  get position(): number {
    return this.#position;
  }

  /**
   * When the earliest scheduled message of the partition that was not due at
   * the last `poll` falls due (epoch ms, on this consumer's clock);
   * `undefined` when none was scheduled. A live consumer polls again then.
   */
  get nextDueAt(): number | undefined {
    return this.#nextDueAt;
  }

  /**
   * Up to `max` envelopes from `position`; `[]` when caught up. First moves
   * the scheduled messages due now (this consumer's `clock`) into the
   * partition, so they are read like any other; `{promoteDue: false}` skips
   * that (one store read fewer) for a caller that watches the partition's
   * schedule and knows nothing fell due since its last poll (`nextDueAt`
   * then keeps its value). A malformed entry is a `DecodeError` and the
   * position stays before it.
   */
  async poll(max: number = this.batchSize, options: PollOptions = {}): Promise<ChannelEnvelope[]> {
    assertPositiveSafeInteger('max', max);
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
    if (options.promoteDue !== false) this.#nextDueAt = await this.source.promoteDue(this.identity.clock(), max);
    const entries = await this.source.store.readFrom(this.source.stream, this.#position, max);
    const envelopes = entries.map(({ sequence, payload }): ChannelEnvelope => {
      const { kind: _kind, ...message } = codec.decodeAs(payload, 'channelMessage');
      const idempotencyKey = storeKey(this.source.channel, this.consumerId, message.messageId);
      return { ...message, idempotencyKey, partition: this.source.partition, offset: sequence };
    });
    const last = envelopes.at(-1);
    if (last !== undefined) this.#position = last.offset + 1;
    this.#polled = envelopes;
    return envelopes;
  }

  /**
   * Marks `envelope` processed without dedup (at-least-once consumers): the
   * cursor moves past it, once every earlier offset is processed too, as the
   * checkpoint policy says.
   */
  async commit(envelope: ChannelEnvelope): Promise<void> {
    this.#assertOwn(envelope);
    await this.#serial(() => this.#acknowledge(envelope.offset));
  }

  /** Checkpoints any processed offset the policy is still holding back. */
  async flush(): Promise<void> {
    await this.#serial(() => this.#checkpoint(() => this.driver.pendingOffset(this.cursor)));
  }

  /**
   * Runs `handler(envelope, tx)` unless the message was already processed
   * by this consumer id (in this run, before a restart, or in another
   * process), and commits the handler's `tx` writes, the receipt (the
   * handler's return value) and the cursor advance as one atomic `commit`.
   *
   * - Another owner holds the message: `{kind: 'inFlight'}`, nothing runs.
   * - The handler throws (or returns something that is not a `Uint8Array`):
   *   nothing is written, the claim is released, `position` rewinds to the
   *   message and the error is rethrown.
   * - The claim was lost meanwhile (the handler outlived its lease and
   *   another owner took over): `ClaimLostError`, nothing is written.
   * - A `tx.cas` or one of `options.conditions` fails: `EffectConflictError`
   *   / `ConditionFailedError`, nothing is written, the claim is released.
   * - The store cannot say whether the commit applied: it is resolved by
   *   reading the receipt back, never by guessing.
   */
  async processOnce(envelope: ChannelEnvelope, handler: MessageHandler, options: ProcessOptions = {}): Promise<ProcessOutcome> {
    this.#assertOwn(envelope);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'expected a function');
    const conditions = validConditions(options);
    this.#active.add(envelope.offset);
    try {
      return await this.#processClaimed(envelope, handler, conditions);
    } finally {
      this.#active.delete(envelope.offset);
    }
  }

  /**
   * `processOnce` for consecutive envelopes of one `poll` (ascending offsets
   * with no gap), committed together: their claims in one commit (none when
   * the previous batch's commit claimed them ahead), then each handler in
   * offset order with its own `EffectTx`, then ONE commit of every receipt,
   * every handler's effects (a later handler's appends go after an earlier
   * one's), `options.conditions` once, one cursor advance past the last, and
   * the claims of as many polled messages after it. Per message it costs
   * what `processOnce` costs divided by the batch's length; the batch is
   * what the caller hands over, never waited for. Its handlers must all
   * finish within the claim lease (`leaseMs`), as one handler must in
   * `processOnce`, or a competing instance may take a claim over (then the
   * commit writes nothing: `ClaimLostError`).
   *
   * All or nothing up to the first failure:
   * - The commit fails on a condition or a lost claim, or the process dies
   *   before it: nothing of the batch is written; every message comes again.
   * - A handler throws (or returns something that is not a `Uint8Array`), or
   *   one of its effects conflicts: the messages before it are committed
   *   (their receipts, effects and the cursor up to it), its claim and those
   *   after it are released, `position` rewinds to it, and the error is
   *   rethrown. The messages after it did not run, or their work is dropped.
   * - One of the messages is already done or claimed by another owner: the
   *   batch goes one message at a time through `processOnce`, and ends at the
   *   first `inFlight` outcome (the outcomes list is then shorter).
   */
  async processBatch(envelopes: readonly ChannelEnvelope[], handler: MessageHandler, options: BatchOptions = {}): Promise<ProcessOutcome[]> {
    this.#assertRun(envelopes);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'expected a function');
    const conditions = validConditions(options);
    const { exclusive = false } = options;
    if (typeof exclusive !== 'boolean') throw new InvalidArgumentError('options.exclusive', 'expected a boolean');
    let tokens: readonly (ClaimToken | undefined)[] | undefined;
    if (exclusive) tokens = this.#takeAheadAll(envelopes);
    else if (envelopes.length === 1) return [await this.processOnce(envelopes[0]!, handler, { conditions })];
    else tokens = await this.#claimAll(envelopes, conditions);
    if (tokens === undefined) return this.#oneByOne(envelopes, handler, conditions);
    for (const { offset } of envelopes) this.#active.add(offset);
    let ran;
    try {
      ran = await this.#runAndCommit(envelopes, tokens, handler, conditions, !exclusive);
    } finally {
      for (const { offset } of envelopes) this.#active.delete(offset);
    }
    return ran.rest === undefined ? ran.outcomes : [...ran.outcomes, ...(await this.#oneByOne(ran.rest, handler, conditions))];
  }

  /**
   * Gives up the claims taken ahead for messages this consumer has not
   * processed (at most a batch per work commit), so that another consumer can
   * take them at once. Call it when stopping for good; a consumer that dies
   * instead leaves them to expire (or to its restart under the same owner).
   */
  async releaseClaims(): Promise<void> {
    const ahead = [...this.#ahead];
    this.#ahead.clear();
    await Promise.all(ahead.map(([key, { token }]) => release({ cache: this.processed, key, token })));
  }

  async #processClaimed(envelope: ChannelEnvelope, handler: MessageHandler, conditions: readonly WriteOp[]): Promise<ProcessOutcome> {
    const { owner, leaseMs, clock } = this.identity;
    let decision;
    try {
      decision = this.#takeAhead(envelope.messageId, clock()) ?? (await this.processed.claimOrGet(envelope.messageId, clock(), { owner, leaseMs, conditions }));
    } catch (error) {
      this.#rewind(envelope);
      throw error;
    }
    if (decision.kind === 'completed') {
      await this.#serial(() => this.#acknowledge(envelope.offset));
      return { kind: 'duplicate', receipt: decision.receipt };
    }
    if (decision.kind === 'inFlight') {
      this.#rewind(envelope);
      return decision;
    }
    const tx = new EffectBuffer(envelope.idempotencyKey, conditions);
    let receipt: Uint8Array;
    try {
      receipt = (await handler(envelope, tx)) ?? EMPTY_RECEIPT;
      assertPayload('receipt (the handler’s return value)', receipt);
    } catch (error) {
      tx.close();
      await this.#abandon(envelope, decision.token);
      throw error;
    }
    tx.close();
    const unit = { key: envelope.messageId, token: decision.token, tx, receipt };
    const committed = await this.#serial(() => this.#commitWork([envelope], [unit], conditions, true));
    if (committed.failure !== undefined) throw committed.failure; // not reached: a first unit's conflict rejects
    return { kind: 'processed', receipt };
  }

  /** A claim taken ahead for `messageId` with at least half a lease left (less would shorten the handler's lease). */
  #takeAhead(messageId: string, nowMs: number): { readonly kind: 'claimed'; readonly token: ClaimToken } | undefined {
    const token = this.#aheadToken(messageId, nowMs);
    this.#ahead.delete(messageId);
    // An older one is taken over by this owner's claimOrGet, which fences its token.
    return token === undefined ? undefined : { kind: 'claimed', token };
  }

  #aheadToken(messageId: string, nowMs: number): ClaimToken | undefined {
    const held = this.#ahead.get(messageId);
    return held !== undefined && held.expiresAtMs - nowMs >= this.identity.leaseMs / 2 ? held.token : undefined;
  }

  /**
   * A claim of every envelope: the ones claimed ahead, and one commit (under
   * `conditions`) for the others. `undefined` when one of those is held or
   * done already, or the commit's outcome is unknown: the caller then goes
   * one message at a time, whose `claimOrGet` reads each head and takes over
   * this owner's own claims.
   */
  async #claimAll(envelopes: readonly ChannelEnvelope[], conditions: readonly WriteOp[]): Promise<ClaimToken[] | undefined> {
    const { owner, leaseMs, clock } = this.identity;
    const nowMs = clock();
    const tokens = envelopes.map(({ messageId }) => this.#aheadToken(messageId, nowMs));
    const claims = envelopes.flatMap(({ messageId }, index) =>
      tokens[index] === undefined ? [{ index, claim: fencedClaim(this.processed, messageId, owner, nowMs, leaseMs) }] : [],
    );
    if (claims.length > 0) {
      try {
        // Claims only: like `claimOrGet`'s, they need to outlive their owner and no more.
        await this.source.store.commit([...conditions, ...claims.flatMap(({ claim }) => claim.ops)], { durability: 'clientLifetime' });
      } catch (error) {
        if (isAmbiguous(error) || (error instanceof CommitConflictError && error.index >= conditions.length)) return undefined;
        this.#rewind(envelopes[0]!);
        if (error instanceof CommitConflictError) throw new ConditionFailedError(error.index, error.cause);
        throw error;
      }
      for (const { index, claim } of claims) {
        claim.landed();
        tokens[index] = claim.record.token as ClaimToken;
      }
    }
    for (const { messageId } of envelopes) this.#ahead.delete(messageId);
    return tokens as ClaimToken[];
  }

  /** The claims taken ahead for the envelopes (`undefined` where none, or less than half a lease left), given up by `#ahead`. */
  #takeAheadAll(envelopes: readonly ChannelEnvelope[]): (ClaimToken | undefined)[] {
    const nowMs = this.identity.clock();
    return envelopes.map(({ messageId }) => this.#takeAhead(messageId, nowMs)?.token);
  }

  /** `processOnce` of each envelope in turn, up to the first that another owner holds. */
  async #oneByOne(envelopes: readonly ChannelEnvelope[], handler: MessageHandler, conditions: readonly WriteOp[]): Promise<ProcessOutcome[]> {
    const outcomes: ProcessOutcome[] = [];
    for (const envelope of envelopes) {
      const outcome = await this.processOnce(envelope, handler, { conditions });
      outcomes.push(outcome);
      if (outcome.kind === 'inFlight') break;
    }
    return outcomes;
  }

  /**
   * Runs the handlers of `envelopes` (claimed with `tokens`, or unclaimed
   * where `undefined`) and commits their work; `rest` is what was found done
   * or held at the commit, for `processOnce`.
   */
  async #runAndCommit(
    envelopes: readonly ChannelEnvelope[],
    tokens: readonly (ClaimToken | undefined)[],
    handler: MessageHandler,
    conditions: readonly WriteOp[],
    claimAhead: boolean,
  ): Promise<{ readonly outcomes: ProcessOutcome[]; readonly rest?: readonly ChannelEnvelope[] }> {
    const units: ClaimedUnit[] = [];
    let failure: { readonly error: unknown } | undefined;
    for (const [index, envelope] of envelopes.entries()) {
      const tx = new EffectBuffer(envelope.idempotencyKey, conditions);
      try {
        const receipt = (await handler(envelope, tx)) ?? EMPTY_RECEIPT;
        assertPayload('receipt (the handler’s return value)', receipt);
        units.push({ key: envelope.messageId, token: tokens[index], tx, receipt });
      } catch (error) {
        failure = { error };
        break;
      } finally {
        tx.close();
      }
    }
    if (failure !== undefined) {
      // The failed message and those after it wrote nothing: anyone may take them again, from the failed one on.
      this.#rewind(envelopes[units.length]!);
      await releaseAll(
        this.processed,
        envelopes.slice(units.length).map(({ messageId }, index) => ({ key: messageId, token: tokens[units.length + index] })),
      );
    }
    let committed = units.length;
    if (units.length > 0) {
      const result = await this.#serial(() => this.#commitWork(envelopes.slice(0, units.length), units, conditions, claimAhead && failure === undefined));
      if (result.failure !== undefined) throw result.failure;
      committed = result.units;
    }
    if (failure !== undefined && committed === units.length) throw failure.error;
    const outcomes = units.slice(0, committed).map(({ receipt }): ProcessOutcome => ({ kind: 'processed', receipt }));
    return committed === units.length ? { outcomes } : { outcomes, rest: envelopes.slice(committed) };
  }

  /**
   * The claims of the `count` messages after `offset`, to commit with the
   * work up to `offset`: in the common sequential case every message (or
   * batch) then costs one commit (its work) instead of two (claims, then
   * work). Only for messages this consumer polled, in a row, and is not
   * processing or holding already.
   */
  #claimAheadAfter(offset: number, count: number, nowMs: number): { readonly ops: readonly WriteOp[]; readonly landed: () => void } | undefined {
    if (!this.identity.claimAhead) return undefined;
    const { owner, leaseMs } = this.identity;
    const claims: (ReturnType<typeof fencedClaim> & { readonly messageId: string })[] = [];
    for (let next = offset + 1; claims.length < count; next++) {
      const envelope = this.#polled.find((polled) => polled.offset === next);
      if (envelope === undefined || this.#active.has(next) || this.#ahead.has(envelope.messageId)) break;
      claims.push({ messageId: envelope.messageId, ...fencedClaim(this.processed, envelope.messageId, owner, nowMs, leaseMs) });
    }
    if (claims.length === 0) return undefined;
    return {
      ops: claims.flatMap(({ ops }) => ops),
      landed: () => {
        for (const { messageId, record, landed } of claims) {
          landed();
          this.#ahead.set(messageId, { token: record.token as ClaimToken, expiresAtMs: record.expiresAtMs });
        }
      },
    };
  }

  /** Every envelope available now, polled `batchSize` at a time; ends when caught up. */
  async *[Symbol.asyncIterator](): AsyncIterator<ChannelEnvelope> {
    for (;;) {
      const batch = await this.poll();
      if (batch.length === 0) return;
      yield* batch;
    }
  }

  /**
   * Commits the claimed work of `envelopes` (consecutive, one unit each),
   * the cursor advance past the last one committed and, when `claimAhead`,
   * the claims of as many polled messages after them. On a later unit's
   * effect conflict the prefix before it is committed, `position` rewinds to
   * it and the result carries the failure.
   */
  async #commitWork(
    envelopes: readonly ChannelEnvelope[],
    units: readonly ClaimedUnit[],
    conditions: readonly WriteOp[],
    claimAhead: boolean,
  ): Promise<CommittedWork> {
    const first = envelopes[0]!.offset;
    try {
      const nowMs = this.identity.clock();
      const ahead = claimAhead ? this.#claimAheadAfter(envelopes.at(-1)!.offset, envelopes.length, nowMs) : undefined;
      const committed = await commitClaimedWork({
        cache: this.processed,
        units,
        nowMs,
        lengths: this.#lengths,
        conditions,
        ...(ahead === undefined ? {} : { claimAhead: ahead }),
        advance: (count) => {
          const due = this.driver.dueOffsetIfProcessed(this.cursor, first, count);
          return due === undefined ? undefined : this.cursor.advanceOp(due);
        },
        onAdvanceConflict: async () => void (await this.cursor.refresh()),
      });
      if (committed.advance !== undefined) this.cursor.advanced(committed.advance.next);
      for (const envelope of envelopes.slice(0, committed.units)) this.driver.markProcessed(this.cursor, envelope.offset);
      if (committed.failure !== undefined) this.#rewind(envelopes[committed.units]!);
      return committed;
    } catch (error) {
      this.#rewind(envelopes[0]!);
      throw error;
    }
  }

  /** A processed (or duplicate) offset: checkpoint it as the policy says. */
  async #acknowledge(offset: number): Promise<void> {
    this.driver.markProcessed(this.cursor, offset);
    await this.#checkpoint(() => this.driver.dueOffset(this.cursor));
  }

  /** Writes the offset `target` names; if another instance moved the cursor first, continues from there. */
  async #checkpoint(target: () => number | undefined): Promise<void> {
    for (let round = 0; ; round++) {
      const offset = target();
      if (offset === undefined) return;
      try {
        await this.cursor.checkpoint(offset);
        return;
      } catch (error) {
        if (!(error instanceof CasConflictError) || round >= MAX_COMMIT_ROUNDS) throw error;
        await this.cursor.refresh();
      }
    }
  }

  /** Nothing was written: let the message be processed again, here (rewind) or by anyone (release). */
  async #abandon(envelope: ChannelEnvelope, token: ClaimToken): Promise<void> {
    this.#rewind(envelope);
    await release({ cache: this.processed, key: envelope.messageId, token });
  }

  #rewind(envelope: ChannelEnvelope): void {
    this.#position = Math.min(this.#position, envelope.offset);
  }

  /** Commits and checkpoints run one at a time, so this consumer's own cursor writes never race each other. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** A non-empty run of this partition's envelopes with consecutive offsets. */
  #assertRun(envelopes: readonly ChannelEnvelope[]): void {
    // Checked as unknown: Array.isArray would narrow the typed envelopes to any[].
    const given: unknown = envelopes;
    if (!Array.isArray(given) || envelopes.length === 0) throw new InvalidArgumentError('envelopes', 'expected a non-empty array of envelopes');
    envelopes.forEach((envelope, index) => {
      this.#assertOwn(envelope);
      if (index > 0 && envelope.offset !== envelopes[index - 1]!.offset + 1) {
        throw new InvalidArgumentError('envelopes', `expected consecutive offsets, got ${envelopes[index - 1]!.offset} then ${envelope.offset}`);
      }
    });
  }

  #assertOwn(envelope: ChannelEnvelope): void {
    if (envelope?.partition !== this.source.partition) {
      throw new InvalidArgumentError('envelope', `belongs to partition ${envelope?.partition}, not ${this.source.partition}`);
    }
  }
}
