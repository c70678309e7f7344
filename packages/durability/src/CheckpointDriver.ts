import { assertNonNegativeSafeInteger, ConfigError } from '@liminal/store';
import type { ConsumerCursor } from './ConsumerCursor.js';

/** When processed offsets are written to the cursor. */
export type CheckpointPolicy =
  | { readonly kind: 'perMessage' }
  /** After every `size` processed messages (and on `flush`). */
  | { readonly kind: 'perBatch'; readonly size: number }
  /** Only on `flush`. */
  | { readonly kind: 'explicitFlush' };

/**
 * Decides when a consumer's processed offset is checkpointed. Fewer
 * checkpoints mean fewer writes and more redelivery after a crash (everything
 * processed since the last checkpoint is delivered again).
 */
export class CheckpointDriver {
  readonly policy: CheckpointPolicy;
  #sinceCheckpoint = 0;
  #pending: number | undefined;

  constructor(policy: CheckpointPolicy) {
    this.policy = validPolicy(policy);
  }

  get messagesSinceLastCheckpoint(): number {
    return this.#sinceCheckpoint;
  }

  /** The processed offset not yet checkpointed, if any. */
  get pendingOffset(): number | undefined {
    return this.#pending;
  }

  /** Records one processed message; `nextOffset` is where to resume after it. Checkpoints if the policy says so. */
  async recordProcessed(cursor: ConsumerCursor, nextOffset: number): Promise<void> {
    assertNonNegativeSafeInteger('nextOffset', nextOffset);
    this.#sinceCheckpoint++;
    this.#pending = nextOffset;
    const { policy } = this;
    if (policy.kind === 'perMessage' || (policy.kind === 'perBatch' && this.#sinceCheckpoint >= policy.size)) {
      await this.flush(cursor);
    }
  }

  /** Checkpoints the pending offset, if any. On failure it stays pending. */
  async flush(cursor: ConsumerCursor): Promise<void> {
    if (this.#pending === undefined) return;
    await cursor.checkpoint(this.#pending);
    this.#pending = undefined;
    this.#sinceCheckpoint = 0;
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
