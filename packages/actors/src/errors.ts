import { LiminalError } from '@liminal/store';
import type { ConversationPhase, FailureReason } from './phases.js';

/**
 * Why a conversation refused an operation or stopped: either a phase change
 * that the lifecycle does not allow (`reason: 'invalidTransition'`, with
 * `from`/`to`), or the conversation has failed for `reason`.
 */
export type ConversationFailure =
  | { readonly reason: 'invalidTransition'; readonly from: ConversationPhase; readonly to: ConversationPhase }
  | { readonly reason: FailureReason; readonly cause?: unknown };

export class ConversationFailedError extends LiminalError {
  readonly code = 'CONVERSATION_FAILED';
  readonly reason: FailureReason | 'invalidTransition';
  /** Set for an out-of-order transition: the phase the conversation stayed in. */
  readonly from: ConversationPhase | undefined;
  /** Set for an out-of-order transition: the phase that was asked for. */
  readonly to: ConversationPhase | undefined;

  constructor(
    readonly conversationId: string,
    failure: ConversationFailure,
  ) {
    const cause = 'cause' in failure ? failure.cause : undefined;
    super(
      failure.reason === 'invalidTransition'
        ? `conversation ${JSON.stringify(conversationId)}: cannot move from ${failure.from} to ${failure.to}`
        : `conversation ${JSON.stringify(conversationId)} failed: ${failure.reason}`,
      cause === undefined ? undefined : { cause },
    );
    this.reason = failure.reason;
    this.from = failure.reason === 'invalidTransition' ? failure.from : undefined;
    this.to = failure.reason === 'invalidTransition' ? failure.to : undefined;
  }
}

/** The conversation is completing or closed and no longer takes or yields messages. */
export class ConversationClosedError extends LiminalError {
  readonly code = 'CONVERSATION_CLOSED';

  constructor(readonly conversationId: string) {
    super(`conversation ${JSON.stringify(conversationId)} is closed`);
  }
}

/** A `receive` or `ask` deadline passed before a message arrived. */
export class TimeoutError extends LiminalError {
  readonly code = 'TIMEOUT';

  constructor(
    readonly operation: 'receive' | 'ask',
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/**
 * A durable compensation was started but its process stopped before its
 * outcome was recorded: it is not run again (at most once), and whether its
 * side effect happened is unknown, so it is reported instead of assumed.
 */
export class CompensationInterruptedError extends LiminalError {
  readonly code = 'COMPENSATION_INTERRUPTED';

  constructor(
    readonly messageId: string,
    readonly step: string,
  ) {
    super(`compensation of step ${JSON.stringify(step)} of message ${JSON.stringify(messageId)} was interrupted; its outcome is unknown`);
  }
}

/**
 * A replayed message asked for a different step than its journal recorded
 * at `stepIndex` (steps reordered, renamed, inserted or removed by a deploy):
 * `recorded` is the name in the journal, `requested` the name the handler
 * asked for (`undefined` when the handler finished without asking for the
 * recorded step). Nothing ran and nothing was written: reusing the recorded
 * output for another step, or running a recorded step again, would corrupt
 * the conversation. Deploy the old definition (see `versions`) to finish it.
 */
export class NonDeterminismError extends LiminalError {
  readonly code = 'NON_DETERMINISM';

  constructor(
    readonly conversationId: string,
    readonly messageId: string,
    readonly stepIndex: number,
    readonly recorded: string,
    readonly requested: string | undefined,
  ) {
    super(
      `conversation ${JSON.stringify(conversationId)}, message ${JSON.stringify(messageId)}: step ${stepIndex} was recorded as ${JSON.stringify(recorded)} but the handler ${
        requested === undefined ? 'finished without it' : `asked for ${JSON.stringify(requested)}`
      }`,
    );
  }
}
