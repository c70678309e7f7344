import { DecodeError, readBatches, type DurableStore } from '@liminal/store';
import type { Effect } from './saga.js';

/**
 * One side effect, as the outside world would see it: a row in the ledger.
 * Each partition has its own ledger stream. Rows are appended only through
 * `DedupCache.runOnce`'s EffectTx (see partitionWorker.ts), so the library
 * fences them: the effect's claim and the partition's lease check commit with
 * the row, which is therefore written once, by the partition's current owner.
 */
export interface LedgerEntry {
  readonly orderId: string;
  readonly step: number;
  readonly effect: Effect;
  readonly amountCents: number;
}

const effects: ReadonlySet<string> = new Set<Effect>([
  'order-validated',
  'stock-reserved',
  'payment-charged',
  'customer-notified',
  'payment-refunded',
  'stock-released',
]);

export function encodeLedgerEntry(entry: LedgerEntry): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(entry));
}

export function decodeLedgerEntry(payload: Uint8Array): LedgerEntry {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (cause) {
    throw new DecodeError('ledger entry is not UTF-8 JSON', { cause });
  }
  const v = value as Record<string, unknown> | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v['orderId'] !== 'string' ||
    !Number.isSafeInteger(v['step']) ||
    typeof v['effect'] !== 'string' ||
    !effects.has(v['effect']) ||
    !Number.isSafeInteger(v['amountCents'])
  ) {
    throw new DecodeError('ledger entry does not have the shape of a ledger entry');
  }
  return value as LedgerEntry;
}

/** Reads a whole ledger stream in pages (a partition's ledger can hold tens of thousands of rows). */
export async function* readLedger(store: DurableStore, stream: string): AsyncGenerator<LedgerEntry & { sequence: number }> {
  for await (const entries of readBatches(store, stream, 0, 2048)) {
    for (const { sequence, payload } of entries) yield { ...decodeLedgerEntry(payload), sequence };
  }
}

export function ledgerKey(orderId: string, step: number): string {
  return `${orderId}#${step}`;
}
