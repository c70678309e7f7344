import type { DurableStore } from '@liminal/store';
import { ConsumerCursor } from './ConsumerCursor.js';
import { DurableConversation, type DurableConversationOptions } from './DurableConversation.js';

/*
 * What a process calls after a crash or restart. Both are read-only until the
 * caller writes: nothing is repaired or rewritten on recovery.
 */

/**
 * Rebuilds a conversation from its latest valid snapshot and the events after
 * it (or a full replay), positioned to append the next event. Then, for each
 * redelivered message, `receiveMessage` says skip / resumeFrom(step) / start,
 * and `state.stepOutput` returns the outputs of the steps already done.
 */
export function recoverConversation(
  store: DurableStore,
  id: string,
  options: DurableConversationOptions = {},
): Promise<DurableConversation> {
  return DurableConversation.recover(store, id, options);
}

/**
 * The cursor of `consumerId` in `channel`'s `partition` (offset 0 when never
 * checkpointed): the first offset that was not yet checkpointed as processed.
 * `DurableChannel.consume` does this for you.
 */
export async function recoverCursor(
  store: DurableStore,
  consumerId: string,
  channel: string,
  partition: number,
): Promise<ConsumerCursor> {
  return ConsumerCursor.resume(store, consumerId, channel, partition);
}
