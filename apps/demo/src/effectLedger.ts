import type { DedupCache } from '@liminal/durability';
import { LiminalError, type DurableStore } from '@liminal/store';
import { decodeLedgerEntry, encodeLedgerEntry, ledgerKey, type LedgerEntry } from './ledger.js';

/** Whether `applyOnce` wrote the effect now, or found it already done. */
export type EffectOutcome =
  | { readonly kind: 'applied'; readonly sequence: number }
  | { readonly kind: 'duplicate'; readonly sequence: number };

/** The dedup cache disagrees with the ledger in a way a single owner cannot produce. */
export class LedgerInconsistencyError extends LiminalError {
  readonly code = 'LEDGER_INCONSISTENT';
}

/**
 * A partition's ledger with exactly-once appends. Each effect is guarded by a
 * `DedupCache` key `<order>#<step>` whose receipt is the ledger sequence:
 * claim, append, then store the receipt. A claim without a receipt means the
 * previous owner (or this participant before a crash) stopped after claiming;
 * because only the partition's owner appends, sequentially, such an effect can
 * only be the ledger's last entry, so one read settles whether it happened.
 */
export class EffectLedger {
  #length: number;

  private constructor(
    readonly store: DurableStore,
    readonly stream: string,
    readonly dedup: DedupCache,
    length: number,
  ) {
    this.#length = length;
  }

  static async open(store: DurableStore, stream: string, dedup: DedupCache): Promise<EffectLedger> {
    return new EffectLedger(store, stream, dedup, await store.streamLength(stream));
  }

  /**
   * Appends `entry` unless it is already in the ledger. `afterAppend` runs
   * between the append and the receipt (the crash injector's favourite spot).
   */
  async applyOnce(entry: LedgerEntry, afterAppend: () => void): Promise<EffectOutcome> {
    const key = ledgerKey(entry.orderId, entry.step);
    let decision = await this.dedup.claimOrGet(key, Date.now());
    if (decision.kind === 'completed') return { kind: 'duplicate', sequence: decodeReceipt(decision.receipt) };
    if (decision.kind === 'inFlight') {
      const last = await this.#lastEntryKey();
      if (last !== undefined && last.key === key) {
        await this.dedup.completeReceipt(key, encodeReceipt(last.sequence));
        return { kind: 'duplicate', sequence: last.sequence };
      }
      await this.dedup.releaseClaim(key);
      decision = await this.dedup.claimOrGet(key, Date.now());
      if (decision.kind !== 'claimed') throw new LedgerInconsistencyError(`effect ${key} was claimed by someone else while this worker owns the partition`);
    }
    // The expected sequence fences this append: a second writer on the partition gets a SequenceConflictError.
    const sequence = await this.store.append(this.stream, encodeLedgerEntry(entry), this.#length);
    this.#length = sequence + 1;
    afterAppend();
    await this.dedup.completeReceipt(key, encodeReceipt(sequence));
    return { kind: 'applied', sequence };
  }

  async #lastEntryKey(): Promise<{ key: string; sequence: number } | undefined> {
    this.#length = await this.store.streamLength(this.stream);
    if (this.#length === 0) return undefined;
    const [last] = await this.store.readFrom(this.stream, this.#length - 1, 1);
    if (last === undefined) return undefined;
    const entry = decodeLedgerEntry(last.payload);
    return { key: ledgerKey(entry.orderId, entry.step), sequence: last.sequence };
  }
}

function encodeReceipt(sequence: number): Uint8Array {
  return new TextEncoder().encode(String(sequence));
}

function decodeReceipt(receipt: Uint8Array): number {
  return Number(new TextDecoder().decode(receipt));
}
