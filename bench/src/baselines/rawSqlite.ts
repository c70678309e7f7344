import type { SqliteSynchronous } from '@liminal/store';
import Database from 'better-sqlite3';

/**
 * The engine's limit: better-sqlite3 on the same schema and pragmas as
 * SqliteStore (WAL, the same `synchronous`), one prepared INSERT per entry in
 * autocommit, no sequence check. The DDL mirrors SqliteStore's on purpose:
 * the row compares the store's overhead, not a different table layout.
 */
export class RawSqlite {
  readonly db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #insertMany: (stream: string, payloads: readonly Buffer[], first: number) => void;

  constructor(path: string, synchronous: SqliteSynchronous) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS entries (
      stream TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
      PRIMARY KEY (stream, seq)) WITHOUT ROWID`);
    this.#insert = this.db.prepare('INSERT INTO entries (stream, seq, payload) VALUES (?, ?, ?)');
    const insert = this.#insert;
    this.#insertMany = this.db.transaction((stream: string, payloads: readonly Buffer[], first: number) => {
      payloads.forEach((payload, index) => insert.run(stream, first + index, payload));
    });
  }

  /** One autocommit INSERT: one transaction, one WAL commit. */
  insert(stream: string, seq: number, payload: Buffer): void {
    this.#insert.run(stream, seq, payload);
  }

  /** One transaction around several INSERTs. */
  insertMany(stream: string, payloads: readonly Buffer[], first: number): void {
    this.#insertMany(stream, payloads, first);
  }

  close(): void {
    this.db.close();
  }
}

/** Indexed by the pragma's numeric value. */
const synchronousNames: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

/**
 * The `synchronous` a WAL connection of this better-sqlite3 build runs at when
 * nobody sets it (builds may change the WAL default at compile time).
 */
export function defaultSynchronous(path: string): string {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    return synchronousNames[db.pragma('synchronous', { simple: true }) as number] ?? 'unknown';
  } finally {
    db.close();
  }
}
