/**
 * Emmett's SQLite event store (0.38.5, node-sqlite3) behind the small surface
 * the bench suites drive. Emmett opens and closes the database file around
 * every call on file databases, and sets only `journal_mode = WAL`, so it
 * always runs at SQLite's compiled-in default `synchronous`.
 */
import { getSQLiteEventStore } from '@event-driven-io/emmett-sqlite';
import sqlite3 from 'sqlite3';

export const emmettSqliteVersion = '0.38.5';

export interface BenchEvent {
  readonly type: 'Appended';
  readonly data: { readonly body: string };
}

export interface EmmettSqlite {
  /** Appends one event with an optimistic version check, like a Liminal append. */
  append(stream: string, event: BenchEvent, expectedVersion: bigint): Promise<void>;
  appendMany(stream: string, events: BenchEvent[], expectedVersion: bigint): Promise<void>;
  close(): void;
}

export function openEmmettSqlite(fileName: string): EmmettSqlite {
  const store = getSQLiteEventStore({ fileName });
  return {
    async append(stream, event, expectedVersion) {
      await store.appendToStream(stream, [event], { expectedStreamVersion: expectedVersion });
    },
    async appendMany(stream, events, expectedVersion) {
      await store.appendToStream(stream, events, { expectedStreamVersion: expectedVersion });
    },
    close() {
      // Emmett closed the file after the last call already.
    },
  };
}

/** The `synchronous` node-sqlite3's SQLite uses in WAL mode when unset, i.e. Emmett's. */
export function emmettSqliteSynchronous(fileName: string): Promise<string> {
  const names = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(fileName);
    db.run('PRAGMA journal_mode = WAL', (error) => {
      if (error) return reject(error);
      db.get('PRAGMA synchronous', (err, row: { synchronous: number } | undefined) => {
        db.close();
        if (err) return reject(err);
        resolve(`${names[row?.synchronous ?? -1] ?? 'unknown'} (SQLite ${sqlite3.VERSION})`);
      });
    });
  });
}
