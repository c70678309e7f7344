import type { DurableStore, StoredEntry } from './DurableStore.js';

/**
 * Every entry of `stream` from `fromSeq` on, read `batchSize` at a time. A
 * batch shorter than asked means the end was reached, which saves the final
 * empty read.
 */
export async function* readBatches(
  store: DurableStore,
  stream: string,
  fromSeq: number,
  batchSize: number,
): AsyncGenerator<StoredEntry[]> {
  for (let next = fromSeq; ; ) {
    const batch = await store.readFrom(stream, next, batchSize);
    if (batch.length > 0) yield batch;
    if (batch.length < batchSize) return;
    next = batch[batch.length - 1]!.sequence + 1;
  }
}
