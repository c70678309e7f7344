import type { CommitOptions, CommitResult, WriteOp } from './WriteOp.js';

export interface StoredEntry {
  readonly sequence: number;
  readonly payload: Uint8Array;
}

/** A counter and the value it holds (see `DurableStore.listValues`). */
export interface StoredValue {
  readonly key: string;
  readonly value: number;
}

export interface WatchOptions {
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
}

export interface ListStreamsOptions {
  /** Only names strictly greater than this one (for paging). */
  readonly after?: string;
  /** At most this many names (a positive safe integer). */
  readonly limit?: number;
}

/**
 * The one storage contract every Liminal layer stands on: append-only streams
 * with optimistic concurrency, and compare-and-swap counters.
 *
 * Every method validates its arguments before touching storage and rejects
 * with a `LiminalError` subclass: `InvalidArgumentError`, `SequenceConflictError`,
 * `CasConflictError`, `CommitConflictError`, `StoreClosedError`, or `StoreUnavailableError`.
 */
export interface DurableStore {
  /**
   * Appends one entry. Sequences start at 0 and have no gaps: `expectedSeq`
   * must equal the stream's current length, and the entry gets that sequence.
   */
  append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number>;
  /** Appends all payloads atomically (all or none); returns the first sequence. */
  appendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number>;
  /** Up to `limit` entries with sequence >= `fromSeq`, in order; `[]` past the end. */
  readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]>;
  streamLength(stream: string): Promise<number>;
  /** Names of non-empty streams starting with `prefix` (taken literally), sorted by code point. */
  listStreams(prefix: string, options?: ListStreamsOptions): Promise<string[]>;
  /** Removes a stream; its name may be appended to again from sequence 0. */
  deleteStream(stream: string): Promise<void>;
  /**
   * Counters whose key starts with `prefix` (taken literally) with their
   * values, sorted by key in code point order; pages like `listStreams`
   * (`after` is a key). For tools that must find counters they cannot name
   * in advance, e.g. every consumer cursor of a channel.
   */
  listValues(prefix: string, options?: ListStreamsOptions): Promise<StoredValue[]>;
  /** A counter's value, or `undefined` when it was never written. */
  readValue(key: string): Promise<number | undefined>;
  /** Sets `key` to `next` only if it holds `expected`; an absent counter holds 0. */
  cas(key: string, expected: number, next: number): Promise<void>;
  /**
   * Applies `ops` in order as one atomic write: all of them or none. Each op
   * sees the state the ops before it left. When a condition fails (an
   * append's `expectedSeq`, a cas's `expected`, a check's `equals`, a
   * deleteStream's `expectedLength`), rejects with `CommitConflictError`
   * naming the first failing op, and nothing is written.
   * `options.durability` (see `CommitDurability`) may let a store skip the
   * flush of a commit that only needs to outlive its writers.
   */
  commit(ops: readonly WriteOp[], options?: CommitOptions): Promise<CommitResult>;
  /**
   * Wake-ups for streams under `prefix` (taken literally): yields the name
   * of a stream after entries were committed to it, by this process or any
   * other sharing the storage. Several appends to one stream before the
   * watcher looks may yield its name once. It is a signal only: read from
   * your own cursor when woken, since a wake-up can be late, duplicated, or
   * (after a lost connection) be a full list of streams under the prefix.
   * The iteration ends when `signal` aborts, when the loop breaks, or when
   * the store closes. Registration is immediate: writes after `watch`
   * returns are seen even before the first `next()`.
   */
  watch(prefix: string, options?: WatchOptions): AsyncIterable<string>;
  /** Releases resources; idempotent. Every later call rejects with `StoreClosedError`. */
  close(): Promise<void>;
}
