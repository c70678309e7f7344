import type { StoredEntry, StoredValue } from './DurableStore.js';
import { CasConflictError, SequenceConflictError } from './errors.js';
import { applyOps } from './internal/applyOps.js';
import { grownBy } from './internal/ChangeHub.js';
import { compareCodePoints } from './internal/codePointOrder.js';
import { StoreBase } from './StoreBase.js';
import type { CommitResult, WriteOp } from './WriteOp.js';

/**
 * An in-process store for tests and examples. Payloads are copied in and out,
 * so a caller mutating its buffer never changes what is stored.
 */
export class MemoryStore extends StoreBase {
  readonly #streams = new Map<string, Uint8Array[]>();
  readonly #counters = new Map<string, number>();

  protected async doAppendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    const entries = this.#streams.get(stream) ?? [];
    if (entries.length !== expectedSeq) throw new SequenceConflictError(stream, expectedSeq, entries.length);
    if (payloads.length === 0) return expectedSeq;
    entries.push(...payloads.map(copyBytes));
    this.#streams.set(stream, entries);
    this.notifyGrown([stream]);
    return expectedSeq;
  }

  protected async doReadFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    const entries = this.#streams.get(stream) ?? [];
    return entries
      .slice(fromSeq, fromSeq + limit)
      .map((payload, index) => ({ sequence: fromSeq + index, payload: copyBytes(payload) }));
  }

  protected async doStreamLength(stream: string): Promise<number> {
    return this.#streams.get(stream)?.length ?? 0;
  }

  protected async doListStreams(prefix: string, after: string | undefined, limit: number | undefined): Promise<string[]> {
    const names = [...this.#streams.keys()]
      .filter((name) => name.startsWith(prefix) && (after === undefined || compareCodePoints(name, after) > 0))
      .sort(compareCodePoints);
    return limit === undefined ? names : names.slice(0, limit);
  }

  protected async doDeleteStream(stream: string): Promise<void> {
    this.#streams.delete(stream);
  }

  protected async doListValues(prefix: string, after: string | undefined, limit: number | undefined): Promise<StoredValue[]> {
    const keys = [...this.#counters.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || compareCodePoints(key, after) > 0))
      .sort(compareCodePoints);
    return (limit === undefined ? keys : keys.slice(0, limit)).map((key) => ({ key, value: this.#counters.get(key) ?? 0 }));
  }

  protected async doReadValue(key: string): Promise<number | undefined> {
    return this.#counters.get(key);
  }

  protected async doCas(key: string, expected: number, next: number): Promise<void> {
    const actual = this.#counters.get(key) ?? 0;
    if (actual !== expected) throw new CasConflictError(key, expected, actual);
    this.#counters.set(key, next);
  }

  /** Ops write to a staged copy of what they touch; only a commit without conflict replaces the originals. */
  protected async doCommit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const streams = new Map<string, Uint8Array[]>();
    const counters = new Map<string, number>();
    const staged = (stream: string) => streams.get(stream) ?? this.#streams.get(stream) ?? [];
    const result = applyOps(ops, {
      length: (stream) => staged(stream).length,
      counter: (key) => counters.get(key) ?? this.#counters.get(key),
      append: (stream, payloads) => streams.set(stream, [...staged(stream), ...payloads.map(copyBytes)]),
      setCounter: (key, value) => counters.set(key, value),
      deleteStream: (stream) => streams.set(stream, []),
    });
    for (const [stream, entries] of streams) {
      if (entries.length === 0) this.#streams.delete(stream);
      else this.#streams.set(stream, entries);
    }
    for (const [key, value] of counters) this.#counters.set(key, value);
    this.notifyGrown(grownBy(ops));
    return result;
  }

  protected async doClose(): Promise<void> {
    this.#streams.clear();
    this.#counters.clear();
  }
}

/** A plain copy; `Buffer#slice` (a Uint8Array subclass) would return a view sharing the caller's memory. */
function copyBytes(payload: Uint8Array): Uint8Array {
  return new Uint8Array(payload);
}
