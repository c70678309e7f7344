import type Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';

/** The tables a SQLite store keeps, created on open when absent. */
export const sqliteSchema = `
  CREATE TABLE IF NOT EXISTS entries (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
  );
`;

/** name, declared type, NOT NULL, position in the primary key (0: not in it), per table. */
const expectedColumns: Readonly<Record<string, readonly string[]>> = {
  entries: ['stream TEXT 1 1', 'seq INTEGER 1 2', 'payload BLOB 1 0'],
  counters: ['key TEXT 1 1', 'value INTEGER 1 0'],
};

interface ColumnInfo {
  readonly name: string;
  readonly type: string;
  readonly notnull: number;
  readonly pk: number;
}

/**
 * Throws `ConfigError` when the file already holds an `entries` or `counters`
 * table (or view, index...) that is not the store's own, before anything is
 * written to the file: `CREATE TABLE IF NOT EXISTS` would accept it silently,
 * and the store would then fail on every call or mix its rows into another
 * application's data. Reads only.
 */
export function assertNoForeignTables(db: Database.Database, path: string): void {
  for (const [table, expected] of Object.entries(expectedColumns)) {
    const object = db.prepare('SELECT type FROM sqlite_schema WHERE name = ? COLLATE NOCASE').get(table) as { type: string } | undefined;
    if (object === undefined) continue;
    const columns = object.type === 'table' ? (db.pragma(`table_info(${table})`) as ColumnInfo[]) : [];
    const found = columns.map((column) => `${column.name} ${column.type.toUpperCase()} ${column.notnull} ${column.pk}`);
    if (object.type !== 'table' || found.join(', ') !== expected.join(', ')) {
      throw new ConfigError(
        `SQLite file ${JSON.stringify(path)} already holds a ${object.type} named ${table} that is not a Liminal store's ` +
          `(expected columns ${expected.join(', ')}; found ${found.join(', ') || 'none'}); use another file`,
      );
    }
  }
}
