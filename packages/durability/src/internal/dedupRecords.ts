import { readBatches, type DurableStore } from '@liminal/store';
import { codec, type RecordOf } from '../codec.js';

export type DedupRecord = RecordOf<'dedupClaim' | 'dedupReceipt' | 'dedupTombstone'>;

/** Dedup streams are a handful of records (claim, receipt, tombstones), so one read nearly always suffices. */
const BATCH = 1024;

/** Every record of one dedup stream, decoded; any foreign or malformed entry is a DecodeError. */
export async function readDedupRecords(store: DurableStore, stream: string): Promise<DedupRecord[]> {
  const records: DedupRecord[] = [];
  for await (const batch of readBatches(store, stream, 0, BATCH)) {
    for (const entry of batch) records.push(codec.decodeAs(entry.payload, 'dedupClaim', 'dedupReceipt', 'dedupTombstone'));
  }
  return records;
}
