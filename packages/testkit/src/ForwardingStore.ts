import type { CommitOptions, CommitResult, DurableStore, ListStreamsOptions, StoredEntry, StoredValue, WatchOptions, WriteOp } from '@liminal/store';

/**
 * Passes every call to `inner`. Extend it to intercept only the calls a test
 * cares about: counting reads, injecting outages, pausing appends.
 */
export class ForwardingStore implements DurableStore {
  constructor(readonly inner: DurableStore) {}

  append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    return this.inner.append(stream, payload, expectedSeq);
  }
  appendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    return this.inner.appendMany(stream, payloads, expectedSeq);
  }
  readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    return this.inner.readFrom(stream, fromSeq, limit);
  }
  streamLength(stream: string): Promise<number> {
    return this.inner.streamLength(stream);
  }
  listStreams(prefix: string, options?: ListStreamsOptions): Promise<string[]> {
    return this.inner.listStreams(prefix, options);
  }
  deleteStream(stream: string): Promise<void> {
    return this.inner.deleteStream(stream);
  }
  listValues(prefix: string, options?: ListStreamsOptions): Promise<StoredValue[]> {
    return this.inner.listValues(prefix, options);
  }
  readValue(key: string): Promise<number | undefined> {
    return this.inner.readValue(key);
  }
  cas(key: string, expected: number, next: number): Promise<void> {
    return this.inner.cas(key, expected, next);
  }
  commit(ops: readonly WriteOp[], options?: CommitOptions): Promise<CommitResult> {
    return this.inner.commit(ops, options);
  }
  watch(prefix: string, options?: WatchOptions): AsyncIterable<string> {
    return this.inner.watch(prefix, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
