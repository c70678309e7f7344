import { assertPayload, assertPositiveSafeInteger, CasConflictError, InvalidArgumentError, type DurableStore, type WriteOp } from '@liminal/store';
import type { CheckpointDriver } from './CheckpointDriver.js';
import { codec } from './codec.js';
import type { ConsumerCursor } from './ConsumerCursor.js';
import type { ClaimToken, DedupCache } from './DedupCache.js';
import type { EffectTx, OnceOutcome } from './EffectTx.js';
import { commitClaimedWork, release, validConditions } from './internal/commitEffects.js';
import { newClaim } from './internal/dedupEntry.js';
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
   * Gives up the claims taken ahead for messages this consumer has not
   * processed (at most one per work commit), so that another consumer can
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
    return this.#serial(() => this.#commitWork(envelope, decision.token, tx, receipt, conditions));
  }

  /** A claim taken ahead for `messageId` with at least half a lease left (less would shorten the handler's lease). */
  #takeAhead(messageId: string, nowMs: number): { readonly kind: 'claimed'; readonly token: ClaimToken } | undefined {
    const held = this.#ahead.get(messageId);
    if (held === undefined) return undefined;
    this.#ahead.delete(messageId);
    // An older one is taken over by this owner's claimOrGet, which fences its token.
    return held.expiresAtMs - nowMs >= this.identity.leaseMs / 2 ? { kind: 'claimed', token: held.token } : undefined;
  }

  /**
   * The claim of the message after `offset`, to commit with `offset`'s work:
   * in the common sequential case every message then costs one commit (its
   * work) instead of two (claim, then work). Only for a message this
   * consumer polled and is not processing or holding already.
   */
  #claimAheadAfter(offset: number, nowMs: number): { readonly ops: readonly WriteOp[]; readonly landed: () => void } | undefined {
    if (!this.identity.claimAhead) return undefined;
    const next = this.#polled.find((envelope) => envelope.offset === offset + 1);
    if (next === undefined || this.#active.has(next.offset) || this.#ahead.has(next.messageId)) return undefined;
    const { owner, leaseMs } = this.identity;
    const claim = newClaim(this.processed.namespace, next.messageId, owner, nowMs, leaseMs);
    return {
      ops: claim.ops,
      landed: () => void this.#ahead.set(next.messageId, { token: claim.record.token as ClaimToken, expiresAtMs: claim.record.expiresAtMs }),
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

  async #commitWork(
    envelope: ChannelEnvelope,
    token: ClaimToken,
    tx: EffectBuffer,
    receipt: Uint8Array,
    conditions: readonly WriteOp[],
  ): Promise<ProcessOutcome> {
    try {
      const nowMs = this.identity.clock();
      const claimAhead = this.#claimAheadAfter(envelope.offset, nowMs);
      const advanced = await commitClaimedWork({
        cache: this.processed,
        key: envelope.messageId,
        token,
        tx,
        receipt,
        nowMs,
        lengths: this.#lengths,
        conditions,
        ...(claimAhead === undefined ? {} : { claimAhead }),
        advance: () => {
          const due = this.driver.dueOffsetIfProcessed(this.cursor, envelope.offset);
          return due === undefined ? undefined : this.cursor.advanceOp(due);
        },
        onAdvanceConflict: async () => void (await this.cursor.refresh()),
      });
      if (advanced !== undefined) this.cursor.advanced(advanced.next);
      this.driver.markProcessed(this.cursor, envelope.offset);
      return { kind: 'processed', receipt };
    } catch (error) {
      this.#rewind(envelope);
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

  #assertOwn(envelope: ChannelEnvelope): void {
    if (envelope?.partition !== this.source.partition) {
      throw new InvalidArgumentError('envelope', `belongs to partition ${envelope?.partition}, not ${this.source.partition}`);
    }
  }
}
