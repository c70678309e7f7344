import { assertNonNegativeSafeInteger, ConfigError } from '@liminal/store';
import type { ConsumerCursor } from './ConsumerCursor.js';

/** When processed offsets are written to the cursor. */
export type CheckpointPolicy =
  | { readonly kind: 'perMessage' }
  /** Once `size` more messages are processed contiguously past the stored offset (and on `flush`). */
  | { readonly kind: 'perBatch'; readonly size: number }
  /** Only on `flush`. */
  | { readonly kind: 'explicitFlush' };

/**
 * Decides when a consumer's processed offset is checkpointed, and makes sure
 * a checkpoint never jumps over an unprocessed message: offsets may complete
 * in any order (handlers running concurrently), but the cursor only moves to
 * the end of the *contiguous* run of processed offsets that starts at the
 * stored offset. Offsets processed beyond a gap wait (in memory) until the
 * gap is filled. Fewer checkpoints mean fewer writes and more redelivery after
 * a crash (everything processed since the last checkpoint comes again).
 */
export class CheckpointDriver {
  readonly policy: CheckpointPolicy;
  /** Processed offsets at or beyond the frontier (the first offset not known to be processed). */
  readonly #ahead = new Set<number>();
  #frontier: number | undefined;

  constructor(policy: CheckpointPolicy) {
    this.policy = validPolicy(policy);
  }

  /**
   * Where the cursor may move now: one past the last offset of the contiguous
   * processed run starting at the cursor's offset, when that is beyond it.
   */
  pendingOffset(cursor: ConsumerCursor): number | undefined {
    const frontier = this.#advance(cursor);
    return frontier > cursor.currentOffset ? frontier : undefined;
  }

  /** How many processed messages the stored offset is behind (the contiguous run only). */
  messagesSinceLastCheckpoint(cursor: ConsumerCursor): number {
    return this.#advance(cursor) - cursor.currentOffset;
  }

  /** Notes that the message at `offset` is processed (in any order); writes nothing. */
  markProcessed(cursor: ConsumerCursor, offset: number): void {
    assertNonNegativeSafeInteger('offset', offset);
    if (offset >= this.#advance(cursor)) this.#ahead.add(offset);
  }

  /** The offset to checkpoint now under the policy (`undefined`: nothing is due). */
  dueOffset(cursor: ConsumerCursor): number | undefined {
    return this.#due(cursor, this.#advance(cursor));
  }

  /**
   * What `dueOffset` would say once the `count` offsets from `offset` on are
   * processed, without marking them: a caller that commits the checkpoint
   * together with the work itself (`processOnce`, `processBatch`) marks the
   * offsets only after that commit succeeded.
   */
  dueOffsetIfProcessed(cursor: ConsumerCursor, offset: number, count = 1): number | undefined {
    assertNonNegativeSafeInteger('offset', offset);
    assertNonNegativeSafeInteger('count', count);
    let frontier = this.#advance(cursor);
    if (offset <= frontier && frontier < offset + count) {
      frontier = offset + count;
      while (this.#ahead.has(frontier)) frontier++;
    }
    return this.#due(cursor, frontier);
  }

  /** Marks `offset` processed, then checkpoints if the policy says so. */
  async recordProcessed(cursor: ConsumerCursor, offset: number): Promise<void> {
    this.markProcessed(cursor, offset);
    const due = this.dueOffset(cursor);
    if (due !== undefined) await cursor.checkpoint(due);
  }

  /** Checkpoints the pending offset, if any. On failure it stays pending. */
  async flush(cursor: ConsumerCursor): Promise<void> {
    const pending = this.pendingOffset(cursor);
    if (pending !== undefined) await cursor.checkpoint(pending);
  }

  #due(cursor: ConsumerCursor, frontier: number): number | undefined {
    if (frontier <= cursor.currentOffset) return undefined;
    const { policy } = this;
    if (policy.kind === 'perMessage') return frontier;
    if (policy.kind === 'perBatch' && frontier - cursor.currentOffset >= policy.size) return frontier;
    return undefined;
  }

  /** Moves the frontier over processed offsets (and up to the cursor, which another instance may have moved). */
  #advance(cursor: ConsumerCursor): number {
    let frontier = this.#frontier ?? cursor.currentOffset;
    if (cursor.currentOffset > frontier) {
      frontier = cursor.currentOffset;
      for (const offset of this.#ahead) if (offset < frontier) this.#ahead.delete(offset);
    }
    while (this.#ahead.delete(frontier)) frontier++;
    this.#frontier = frontier;
    return frontier;
  }
}

function validPolicy(policy: CheckpointPolicy): CheckpointPolicy {
  switch (policy?.kind) {
    case 'perMessage':
    case 'explicitFlush':
      return policy;
    case 'perBatch':
      if (!Number.isSafeInteger(policy.size) || policy.size < 1) {
        throw new ConfigError(`perBatch checkpoint size must be a positive safe integer, got ${policy.size}`);
      }
      return policy;
    default:
      throw new ConfigError(`unknown checkpoint policy ${JSON.stringify(policy)}`);
  }
}
