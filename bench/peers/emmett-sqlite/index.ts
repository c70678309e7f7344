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
  /** Appends that failed with SQLITE_BUSY and were retried (see `retryBusy`). */
  readonly busyRetries: number;
}

const maxAttempts = 10;

export function openEmmettSqlite(fileName: string): EmmettSqlite {
  const store = getSQLiteEventStore({ fileName });
  let busyRetries = 0;
  return {
    async append(stream, event, expectedVersion) {
      // Emmett 0.38.5 reads `INSERT … RETURNING` with node-sqlite3's `get`,
      // which leaves the statement unfinished; now and then its COMMIT then
      // fails with "SQLITE_BUSY: cannot commit transaction - SQL statements
      // in progress" and Emmett rolls back. An application would retry, so
      // the bench does too (the failed attempt's time is counted).
      for (let attempt = 1; ; attempt++) {
        try {
          await store.appendToStream(stream, [event], { expectedStreamVersion: expectedVersion });
          return;
        } catch (error) {
          if (attempt === maxAttempts || (error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
          busyRetries++;
        }
      }
    },
    get busyRetries() {
      return busyRetries;
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
