import { IndexedConflictError, InvalidArgumentError, LiminalError, type CommitConflictCause } from '@liminal/store';

/** Why a dedup operation refused to touch an entry. */
export type DedupCollisionReason =
  /** `completeReceipt` was given bytes different from the receipt already stored. */
  | 'differentReceipt'
  /** `completeReceipt` found no claim for the key. */
  | 'missingClaim'
  /** Another idempotency key hashes into the same stream. */
  | 'hashCollision';

/** A dedup entry cannot be used for this key; nothing was written. */
export class DedupCollisionError extends LiminalError {
  readonly code = 'DEDUP_COLLISION';

  constructor(
    readonly key: string,
    readonly reason: DedupCollisionReason,
  ) {
    super(`idempotency key ${JSON.stringify(key)}: ${reason}`);
  }
}

/** A checkpoint would move a consumer cursor backwards; nothing was written. */
export class CursorRegressionError extends LiminalError {
  readonly code = 'CURSOR_REGRESSION';

  constructor(
    readonly cursorKey: string,
    readonly stored: number,
    readonly attempted: number,
  ) {
    super(`cursor ${JSON.stringify(cursorKey)}: offset ${attempted} is below the stored offset ${stored}`);
  }
}

/**
 * A claim token no longer holds its key: the lease expired and another owner
 * took the key over (or a sweeper removed the expired claim), or the claim was
 * already released or completed under another token. Nothing was written.
 */
export class ClaimLostError extends LiminalError {
  readonly code = 'CLAIM_LOST';

  constructor(
    readonly namespace: string,
    readonly key: string,
  ) {
    super(`${namespace}: the claim on key ${JSON.stringify(key)} was lost (lease expired and taken over, or already settled)`);
  }
}

/**
 * An extra condition given to `processOnce` (`options.conditions[index]`, e.g.
 * a lease-epoch `check`) did not hold when the effects were committed. Nothing
 * was written: no effect, no receipt, no cursor move; the claim was released.
 */
export class ConditionFailedError extends IndexedConflictError {
  readonly code = 'CONDITION_FAILED';

  /** `index`: position in `options.conditions`. */
  constructor(index: number, cause: CommitConflictCause) {
    super(index, cause, `processOnce condition ${index} failed`);
  }
}

/**
 * A `tx.cas` queued by a handler found another value when the effects were
 * committed. Nothing was written; the claim was released, so the message can
 * be processed again (the handler re-reads and decides anew).
 */
export class EffectConflictError extends IndexedConflictError {
  readonly code = 'EFFECT_CONFLICT';

  /** `index`: position of the conflicting effect in the order the handler queued them. */
  constructor(index: number, cause: CommitConflictCause) {
    super(index, cause, `effect ${index} conflicted`);
  }
}

/** An effect was queued on an `EffectTx` after its handler returned (or threw); it was not written. */
export class EffectTxClosedError extends LiminalError {
  readonly code = 'EFFECT_TX_CLOSED';

  constructor(readonly idempotencyKey: string) {
    super(`the EffectTx of ${JSON.stringify(idempotencyKey)} is closed: effects must be queued before the handler returns`);
  }
}

/**
 * This member no longer holds the partition's lease (another member took it
 * over, e.g. after this process was paused past its lease): the work was not
 * committed (nothing written) and the member dropped the partition.
 */
export class LeaseLostError extends LiminalError {
  readonly code = 'LEASE_LOST';

  constructor(
    readonly group: string,
    readonly partition: number,
    readonly epoch: number,
    options?: { cause?: unknown },
  ) {
    super(`group ${JSON.stringify(group)}: lease of partition ${partition} at epoch ${epoch} was taken over`, options);
  }
}

/** A `traceparent` header is not a valid W3C trace context. */
export class InvalidTraceparentError extends InvalidArgumentError {
  constructor(
    readonly traceparent: string,
    reason: string,
  ) {
    super('traceparent', `${JSON.stringify(traceparent)}: ${reason}`);
  }
}

/**
 * A supervisor restarted its children more than `intensity` times within
 * `periodMs`; it stopped them and fails with this error so its parent sees
 * the escalation as a crash (`xstate.error.actor.<supervisor id>`).
 */
export class SupervisorEscalationError extends LiminalError {
  readonly code = 'SUPERVISOR_ESCALATED';

  constructor(
    readonly supervisor: string,
    readonly child: string,
    readonly intensity: number,
    readonly periodMs: number,
    cause: unknown,
  ) {
    super(
      `supervisor ${JSON.stringify(supervisor)}: more than ${intensity} restarts within ${periodMs} ms (last crash: ${JSON.stringify(child)})`,
      { cause },
    );
  }
}

/**
 * Processing a message of a group partition failed (the handler threw, a
 * `tx.cas` conflicted, the entry does not decode): nothing of it was written.
 * The member keeps the partition and retries the same message after
 * `retryInMs` (100 ms doubling to 30 s); its other partitions go on. Reported
 * on `member.on('failed', fn)`.
 */
export class MessageFailedError extends LiminalError {
  readonly code = 'MESSAGE_FAILED';

  constructor(
    readonly group: string,
    readonly partition: number,
    /** The message's offset; `undefined` when reading the partition failed before a message was in hand. */
    readonly offset: number | undefined,
    /** Consecutive failures at this position, 1 for the first. */
    readonly attempt: number,
    readonly retryInMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      `group ${JSON.stringify(group)}: partition ${partition}${offset === undefined ? '' : ` offset ${offset}`} failed (attempt ${attempt}), retrying in ${retryInMs} ms`,
      options,
    );
  }
}
