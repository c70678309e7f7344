import type { CommitResult, DurableStore, StoredEntry, WriteOp } from '@liminal/store';
import { availableStoreKinds, ForwardingStore, type StoreKind } from '@liminal/testkit';
import { afterEach } from 'vitest';
import { listDedupKeys } from '../../src/index.js';

/** Memory and SQLite always, PostgreSQL when reachable (required under CI=true). */
export const storeKinds: StoreKind[] = await availableStoreKinds();

/**
 * Opens a fresh store of `kind` that is closed (and its temp file / schema
 * removed) after the current test.
 */
export function useStore(kind: StoreKind): () => Promise<DurableStore> {
  const opened: DurableStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  return async () => {
    const store = await kind.open();
    opened.push(store);
    return store;
  };
}

/** Wraps a store and counts the entries each stream returned from `readFrom`. */
export class CountingStore extends ForwardingStore {
  readonly entriesRead = new Map<string, number>();
  readonly reads: { stream: string; fromSeq: number; limit: number }[] = [];
  /** Store commits made (each one a durable transaction). */
  commits = 0;
  /** The ops of each commit, in call order. */
  readonly commitOps: (readonly WriteOp[])[] = [];

  override commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    this.commits += 1;
    this.commitOps.push(ops);
    return this.inner.commit(ops);
  }

  override async readFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    this.reads.push({ stream, fromSeq, limit });
    const entries = await this.inner.readFrom(stream, fromSeq, limit);
    this.entriesRead.set(stream, (this.entriesRead.get(stream) ?? 0) + entries.length);
    return entries;
  }
}

/** Every entry of a stream (for "the stream was left as it was" checks). */
export async function readAll(store: DurableStore, stream: string): Promise<StoredEntry[]> {
  return store.readFrom(stream, 0, 1_000_000);
}

/** The keys of a dedup namespace that are claimed (in flight) now. */
export async function claimedKeys(store: DurableStore, namespace: string): Promise<string[]> {
  const claimed: string[] = [];
  for (let page = await listDedupKeys(store, namespace); ; page = await listDedupKeys(store, namespace, { after: page.next! })) {
    for (const entry of page.entries) if (entry.state === 'claimed') claimed.push(entry.key);
    if (page.next === undefined) return claimed;
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (data: Uint8Array): string => new TextDecoder().decode(data);
