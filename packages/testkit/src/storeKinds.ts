import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DurableStore, MemoryStore, PostgresStore, SqliteStore } from '@liminal/store';
import { dropTestSchema, postgresForTests } from './postgres.js';

/** One adapter under test; every `open()` gives a fresh, empty store isolated from all others. */
export interface StoreKind {
  readonly name: 'memory' | 'sqlite' | 'postgres';
  readonly open: () => Promise<DurableStore>;
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

/** A PostgreSQL store in its own schema, dropped on close (tests share one database). */
class TemporaryPostgresStore extends PostgresStore {
  readonly #url: string;
  readonly #schemaName: string;

  constructor(url: string, schema: string) {
    super(url, { schema, poolSize: 4 });
    this.#url = url;
    this.#schemaName = schema;
  }

  protected override async doClose(): Promise<void> {
    try {
      await super.doClose();
    } finally {
      await dropTestSchema(this.#schemaName, this.#url);
    }
  }
}

/** A fresh schema name per store, so concurrent test files never see each other's data. */
export function uniqueSchemaName(): string {
  return `liminal_test_${randomBytes(6).toString('hex')}`;
}

const memoryKind: StoreKind = { name: 'memory', open: async () => new MemoryStore() };

const sqliteKind: StoreKind = {
  name: 'sqlite',
  open: async () => {
    const directory = mkdtempSync(join(tmpdir(), 'liminal-store-'));
    try {
      return new TemporarySqliteStore(directory);
    } catch (error) {
      rmSync(directory, { recursive: true, force: true });
      throw error;
    }
  },
};

/**
 * The adapters a test run can exercise: memory and SQLite always, PostgreSQL
 * when it is reachable (under `CI=true` an unreachable PostgreSQL throws).
 */
export async function availableStoreKinds(): Promise<StoreKind[]> {
  postgresUrl ??= postgresForTests();
  const url = await postgresUrl;
  if (url === undefined) return [memoryKind, sqliteKind];
  return [memoryKind, sqliteKind, { name: 'postgres', open: async () => new TemporaryPostgresStore(url, uniqueSchemaName()) }];
}

// Probed once per process: every test file asks, and the answer does not change mid-run.
let postgresUrl: Promise<string | undefined> | undefined;
