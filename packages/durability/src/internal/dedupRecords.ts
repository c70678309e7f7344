import type { DurableStore } from '@liminal/store';
import { codec, type RecordOf } from '../codec.js';

export type DedupRecord = RecordOf<'dedupClaim' | 'dedupReceipt' | 'dedupTombstone'>;

const BATCH = 1024;

/** Every record of one dedup stream, decoded; any foreign or malformed entry is a DecodeError. */
export async function readDedupRecords(store: DurableStore, stream: string): Promise<DedupRecord[]> {
  const records: DedupRecord[] = [];
  for (;;) {
    const batch = await store.readFrom(stream, records.length, BATCH);
    for (const entry of batch) records.push(codec.decodeAs(entry.payload, 'dedupClaim', 'dedupReceipt', 'dedupTombstone'));
    if (batch.length < BATCH) return records;
  }
}
