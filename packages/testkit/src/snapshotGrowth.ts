import { type DurableStore, MemoryStore } from '@liminal/store';
import { ByteCountingStore } from './ByteCountingStore.js';

/** The part of @liminal/durability's DurableConversation the workload writes through (testkit does not depend on it). */
export interface ConversationWriter {
  recordMessageReceived(messageId: string, receivedAt: number): Promise<unknown>;
  recordProcessingStarted(messageId: string): Promise<unknown>;
  recordStepCompleted(messageId: string, stepIndex: number, output: Uint8Array): Promise<unknown>;
  recordProcessingFinished(messageId: string): Promise<unknown>;
}

export interface GrowthCheckpoint {
  readonly messages: number;
  readonly eventBytes: number;
  readonly snapshotBytes: number;
}

/**
 * One long-lived conversation on a byte-counting memory store: `total`
 * messages of 4 events each (received, started, one step, finished), with
 * the bytes written so far after each quarter. What shows whether snapshot
 * bytes grow linearly with the conversation or with its square.
 */
export async function measureSnapshotGrowth(
  open: (store: DurableStore) => ConversationWriter,
  total: number,
): Promise<{ store: ByteCountingStore; checkpoints: GrowthCheckpoint[] }> {
  const store = new ByteCountingStore(new MemoryStore());
  const writer = open(store);
  const output = new TextEncoder().encode('{"v":"ok"}');
  const checkpoints: GrowthCheckpoint[] = [];
  for (let i = 1; i <= total; i++) {
    const id = `order-${i}`;
    await writer.recordMessageReceived(id, i);
    await writer.recordProcessingStarted(id);
    await writer.recordStepCompleted(id, 0, output);
    await writer.recordProcessingFinished(id);
    if (i % (total / 4) === 0) checkpoints.push({ messages: i, eventBytes: store.eventBytes, snapshotBytes: store.snapshotBytes });
  }
  return { store, checkpoints };
}
