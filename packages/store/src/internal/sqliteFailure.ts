import Database from 'better-sqlite3';
import {
  ConfigError,
  errorMessage,
  InvalidArgumentError,
  LiminalError,
  StoreCorruptError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../errors.js';

/**
 * What a SQLite failure means to the caller, classified like PostgreSQL's
 * (see `pgFailure`): a file it must fix or replace (`ConfigError`,
 * `StoreCorruptError`), a value SQLite refuses (`InvalidArgumentError`), a
 * lock held elsewhere past `busyTimeoutMs` (`StoreTimeoutError`), or the
 * backend failing for now (`StoreUnavailableError`: I/O error, disk full,
 * out of memory). SQLite rolls a failed transaction back, so nothing of the
 * call was written (`ambiguous: false`) whatever the class.
 */
export function sqliteFailure(error: unknown, busyTimeoutMs: number): LiminalError {
  if (error instanceof LiminalError) return error;
  const reason = errorMessage(error);
  const code = error instanceof Database.SqliteError ? error.code : '';
  const family = code.replace(/^(SQLITE_[A-Z]+).*$/, '$1');
  switch (family) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      // better-sqlite3 already waited busyTimeoutMs for the other connection's lock.
      return new StoreTimeoutError(`SQLite file locked by another connection for over ${busyTimeoutMs} ms: ${reason}`, busyTimeoutMs, { cause: error });
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return new ConfigError(`SQLite cannot use this file (${code}): ${reason}`, { cause: error });
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new StoreCorruptError(`SQLite file is not a usable database (${code}): ${reason}`, { cause: error });
    case 'SQLITE_TOOBIG':
    case 'SQLITE_MISMATCH':
    case 'SQLITE_CONSTRAINT':
    case 'SQLITE_RANGE':
      return new InvalidArgumentError('value', `SQLite refused it (${code}): ${reason}`);
    default:
      // SQLITE_IOERR*, SQLITE_FULL, SQLITE_NOMEM, SQLITE_PROTOCOL and anything unforeseen: the backend failing.
      return new StoreUnavailableError(`SQLite failed${code === '' ? '' : ` (${code})`}: ${reason}`, { cause: error });
  }
}

/** Errors caused by one append's own values (too big, a constraint), not by the database or the file. */
export function isOwnSqliteFailure(error: unknown): boolean {
  const code = error instanceof Database.SqliteError ? error.code : undefined;
  return code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code?.startsWith('SQLITE_CONSTRAINT') === true;
}
