import { LiminalError } from '@liminal/store';

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
 * Another caller claimed this key in `namespace` and has neither completed nor
 * released it (or crashed before it could). Retry later: the claim is either
 * completed by its owner or removed by a `DedupSweeper` after the dedup window.
 */
export class InFlightError extends LiminalError {
  readonly code = 'IN_FLIGHT';

  constructor(
    readonly namespace: string,
    readonly key: string,
  ) {
    super(`${namespace}: key ${JSON.stringify(key)} is claimed by a caller that has not finished`);
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
