import type { DurableStore, ListStreamsOptions, WatchOptions, StoredEntry, StoredValue } from './DurableStore.js';
import { InvalidArgumentError, StoreClosedError } from './errors.js';
import { ChangeHub } from './internal/ChangeHub.js';
import { assertWriteOps } from './internal/validateWriteOps.js';
import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  assertPayloads,
  assertPositiveSafeInteger,
  assertString,
} from './internal/validate.js';
import type { CommitDurability, CommitOptions, CommitResult, WriteOp } from './WriteOp.js';

const durabilities: readonly CommitDurability[] = ['full', 'clientLifetime'];

/**
 * The contract checks every adapter shares: arguments are validated and a
 * closed store refuses work *before* the adapter runs, so an adapter only
 * ever sees well-formed calls and a rejected call can never write anything.
 */
export abstract class StoreBase implements DurableStore {
  #closed = false;
  readonly #changes = new ChangeHub({ onActive: () => this.watchStarted(), onIdle: () => this.watchStopped() });

  protected abstract doAppendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number>;
  protected abstract doReadFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]>;
  protected abstract doStreamLength(stream: string): Promise<number>;
  protected abstract doListStreams(prefix: string, after: string | undefined, limit: number | undefined): Promise<string[]>;
  protected abstract doDeleteStream(stream: string): Promise<void>;
  protected abstract doListValues(prefix: string, after: string | undefined, limit: number | undefined): Promise<StoredValue[]>;
  protected abstract doReadValue(key: string): Promise<number | undefined>;
  protected abstract doCas(key: string, expected: number, next: number): Promise<void>;
  protected abstract doClose(): Promise<void>;
  /**
   * Applies `ops` in order, all or none. Called with a validated copy of the
   * list; the adapter copies payloads before its first await, since the
   * caller may reuse its buffers once `commit` has returned its promise.
   * An adapter that cannot lose a commit without losing its clients too may
   * skip the flush of a `clientLifetime` one; the others ignore `durability`.
   */
  protected abstract doCommit(ops: readonly WriteOp[], durability: CommitDurability): Promise<CommitResult>;

  /** Single appends go through the batch path unless an adapter has a faster one. */
  protected doAppend(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    return this.doAppendMany(stream, [payload], expectedSeq);
  }

  async append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    this.assertOpen();
    assertName('stream', stream);
    assertPayload('payload', payload);
    assertNonNegativeSafeInteger('expectedSeq', expectedSeq);
    return this.paced(this.doAppend(stream, payload, positiveZero(expectedSeq)));
  }

  async appendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    this.assertOpen();
    assertName('stream', stream);
    assertPayloads('payloads', payloads);
    assertNonNegativeSafeInteger('expectedSeq', expectedSeq);
    return this.paced(this.doAppendMany(stream, payloads, positiveZero(expectedSeq)));
  }

  async readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    this.assertOpen();
    assertName('stream', stream);
    assertNonNegativeSafeInteger('fromSeq', fromSeq);
    assertPositiveSafeInteger('limit', limit);
    return this.paced(this.doReadFrom(stream, fromSeq, limit));
  }

  async streamLength(stream: string): Promise<number> {
    this.assertOpen();
    assertName('stream', stream);
    return this.paced(this.doStreamLength(stream));
  }

  async listStreams(prefix: string, options: ListStreamsOptions = {}): Promise<string[]> {
    this.assertOpen();
    assertListing(prefix, options);
    return this.paced(this.doListStreams(prefix, options.after, options.limit));
  }

  async listValues(prefix: string, options: ListStreamsOptions = {}): Promise<StoredValue[]> {
    this.assertOpen();
    assertListing(prefix, options);
    return this.paced(this.doListValues(prefix, options.after, options.limit));
  }

  async deleteStream(stream: string): Promise<void> {
    this.assertOpen();
    assertName('stream', stream);
    return this.paced(this.doDeleteStream(stream));
  }

  async readValue(key: string): Promise<number | undefined> {
    this.assertOpen();
    assertName('key', key);
    return this.paced(this.doReadValue(key));
  }

  async cas(key: string, expected: number, next: number): Promise<void> {
    this.assertOpen();
    assertName('key', key);
    assertNonNegativeSafeInteger('expected', expected);
    assertNonNegativeSafeInteger('next', next);
    return this.paced(this.doCas(key, positiveZero(expected), positiveZero(next)));
  }

  async commit(ops: readonly WriteOp[], options: CommitOptions = {}): Promise<CommitResult> {
    this.assertOpen();
    assertWriteOps(ops);
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object { durability? }');
    const { durability = 'full' } = options;
    if (!durabilities.includes(durability)) {
      throw new InvalidArgumentError('options.durability', `expected one of ${durabilities.map((d) => `'${d}'`).join(', ')}`);
    }
    // A copy: the caller may change its op objects once this returns.
    return this.paced(this.doCommit(ops.map(normalizeOp), durability));
  }

  watch(prefix: string, options: WatchOptions = {}): AsyncIterable<string> {
    this.assertOpen();
    assertString('prefix', prefix);
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'expected an object { signal? }');
    }
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('options.signal', 'expected an AbortSignal');
    }
    return this.#changes.subscribe(prefix, options.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#changes.endAll();
    await this.doClose();
  }

  /**
   * Every call's result passes through here. An adapter whose calls complete
   * synchronously (SQLite) overrides it to yield to the event loop now and
   * then, so a loop of awaited calls cannot starve timers and I/O.
   */
  protected paced<T>(result: Promise<T>): Promise<T> {
    return result;
  }

  /** Adapters call this once writes to `streams` are committed, to wake this process's watchers. */
  protected notifyGrown(streams: Iterable<string>): void {
    this.#changes.notify(streams);
  }

  /** The prefixes watched right now. */
  protected watchedPrefixes(): string[] {
    return this.#changes.prefixes();
  }

  /** The first watcher started: an adapter starts listening for other processes' writes here. */
  protected watchStarted(): void {}

  /** The last watcher ended. */
  protected watchStopped(): void {}

  protected get closed(): boolean {
    return this.#closed;
  }

  private assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

function assertListing(prefix: string, options: ListStreamsOptions): void {
  assertString('prefix', prefix);
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'expected an object { after?, limit? }');
  }
  if (options.after !== undefined) assertName('after', options.after);
  if (options.limit !== undefined) assertPositiveSafeInteger('limit', options.limit);
}

/** -0 passes as a non-negative integer; it is stored and returned as 0 (`append(s, p, -0)` returns 0, not -0). */
function positiveZero(value: number): number {
  return value === 0 ? 0 : value;
}

function normalizeOp(op: WriteOp): WriteOp {
  switch (op.op) {
    case 'append':
      return { op: 'append', stream: op.stream, payloads: [...op.payloads], expectedSeq: positiveZero(op.expectedSeq) };
    case 'cas':
      return { op: 'cas', key: op.key, expected: positiveZero(op.expected), next: positiveZero(op.next) };
    case 'check':
      return { op: 'check', key: op.key, equals: positiveZero(op.equals) };
    case 'deleteStream':
      return { op: 'deleteStream', stream: op.stream, expectedLength: positiveZero(op.expectedLength) };
  }
}
