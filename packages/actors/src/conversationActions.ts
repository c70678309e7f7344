import { DurableConversation, type ConversationPhase } from '@liminal/durability';
import { CommitConflictError, InvalidArgumentError, LiminalError, SequenceConflictError, type DurableStore } from '@liminal/store';
import { COMPENSATION_MESSAGE_ID } from './DurableSteps.js';

/** What an operator action did to a durable conversation. */
export interface ConversationActionResult {
  readonly id: string;
  readonly from: ConversationPhase;
  readonly to: ConversationPhase;
  /** The journal position of the `phaseChanged` the action wrote. */
  readonly seq: number;
}

/** Why an action was refused before anything was written. */
export type ActionRefusal = 'notFound' | 'notFailed' | 'compensated' | 'alreadyEnded';

/** The action does not apply to the conversation as it is (nothing was written). */
export class ConversationActionRefusedError extends LiminalError {
  readonly code = 'ACTION_REFUSED';

  constructor(
    readonly conversationId: string,
    readonly refusal: ActionRefusal,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Someone (a live worker, another operator) wrote to the conversation
 * between the action's read and its commit: the commit was conditional on
 * what was read, so nothing was written. Look at it again.
 */
export class ConcurrentChangeError extends LiminalError {
  readonly code = 'CONCURRENT_CHANGE';

  constructor(
    readonly conversationId: string,
    cause: unknown,
  ) {
    super(`conversation ${JSON.stringify(conversationId)} changed while the action ran; nothing was written`, { cause });
  }
}

export interface ConversationActionOptions {
  /** Epoch ms recorded with the phase change and the index's last activity (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * Retries a failed durable conversation: appends `phaseChanged` to `active`,
 * which clears its failure and revives its participants (see
 * `ConversationState`). Its unfinished messages resume from their last
 * recorded step when they are delivered again (same message id): recorded
 * steps are not run again. A conversation whose compensations ran is
 * refused (its effects were undone; start a new one instead).
 *
 * One store `commit`, conditional on the journal length read (and on the
 * conversation index's counters): a worker or operator that wrote meanwhile
 * makes it fail with `ConcurrentChangeError` and nothing is written.
 */
export async function retryConversation(store: DurableStore, id: string, options: ConversationActionOptions = {}): Promise<ConversationActionResult> {
  return act(store, id, options, (conversation) => {
    const { phase } = conversation.state.header;
    if (phase !== 'failed') throw new ConversationActionRefusedError(id, 'notFailed', `conversation ${JSON.stringify(id)} is ${phase}, not failed: there is nothing to retry`);
    if (conversation.state.hasReceived(COMPENSATION_MESSAGE_ID)) {
      throw new ConversationActionRefusedError(id, 'compensated', `conversation ${JSON.stringify(id)} was compensated (its effects were undone): it cannot be retried`);
    }
    return { phase: 'active' };
  });
}

/**
 * Cancels a durable conversation that has not ended: appends `phaseChanged`
 * to `failed` with the failure `requested` (cause `cancelled`), as
 * `handle.fail()` would. A worker still holding it is fenced: its next
 * journal write conflicts. Closed or failed conversations are refused.
 * Same single conditional commit as `retryConversation`.
 */
export async function cancelConversation(store: DurableStore, id: string, options: ConversationActionOptions = {}): Promise<ConversationActionResult> {
  return act(store, id, options, (conversation) => {
    const { phase } = conversation.state.header;
    if (phase === 'closed' || phase === 'failed') throw new ConversationActionRefusedError(id, 'alreadyEnded', `conversation ${JSON.stringify(id)} is already ${phase}`);
    return { phase: 'failed', failure: 'requested', cause: 'cancelled' };
  });
}

async function act(
  store: DurableStore,
  id: string,
  options: ConversationActionOptions,
  decide: (conversation: DurableConversation) => { phase: ConversationPhase; failure?: string; cause?: string },
): Promise<ConversationActionResult> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected { now? }');
  const now = options.now ?? (() => Date.now());
  const conversation = await DurableConversation.recover(store, id, { index: true, now });
  if (conversation.expectedSeq === 0) throw new ConversationActionRefusedError(id, 'notFound', `no durable conversation ${JSON.stringify(id)} in this store`);
  const from = conversation.state.header.phase;
  const change = decide(conversation);
  try {
    const seq = await conversation.recordLifecycle({ kind: 'phaseChanged', at: now(), ...change });
    return { id, from, to: change.phase, seq };
  } catch (error) {
    // The journal append expects the length read above, and the index's writes the counters read with it.
    if (error instanceof SequenceConflictError || error instanceof CommitConflictError) throw new ConcurrentChangeError(id, error);
    throw error;
  }
}
