import pg from 'pg';
import { ConfigError, errorMessage, InvalidArgumentError, LiminalError, StoreTimeoutError, StoreUnavailableError } from '../errors.js';

/**
 * The connection failed after a write was sent (a COMMIT, or an autocommit
 * write statement) and before its answer came: it may have committed.
 */
export class SentWriteLost extends Error {
  constructor(override readonly cause: unknown) {
    super(errorMessage(cause));
  }
}

/** Throws `SentWriteLost` for a failure of a sent write that the server did not answer with an error. */
export function markSentWriteLost(error: unknown): never {
  throw error instanceof pg.DatabaseError || error instanceof LiminalError ? error : new SentWriteLost(error);
}

/**
 * What a PostgreSQL failure means to the caller: a configuration it must fix
 * (`ConfigError`), a value the server refused (`InvalidArgumentError`), a
 * timeout, or unavailability — `ambiguous` only when a sent write lost its
 * connection before the answer.
 */
export function pgFailure(error: unknown, statementTimeoutMs: number): LiminalError {
  if (error instanceof LiminalError) return error;
  const ambiguous = error instanceof SentWriteLost;
  const raw = error instanceof SentWriteLost ? error.cause : error;
  const reason = errorMessage(raw);
  if (raw instanceof pg.DatabaseError) {
    const code = raw.code ?? '';
    // Statement timeout (the server cancelled the statement: nothing committed).
    if (code === '57014') {
      return new StoreTimeoutError(`PostgreSQL statement exceeded ${statementTimeoutMs} ms: ${reason}`, statementTimeoutMs, { cause: raw });
    }
    // Authentication, unknown database, missing privilege, reserved or invalid schema: retrying cannot help.
    if (code.startsWith('28') || code === '3D000' || code === '42501' || code === '42939' || code === '3F000') {
      return new ConfigError(`PostgreSQL refused the configuration: ${reason}`, { cause: raw });
    }
    // Data exceptions and program limits: a value the server cannot store.
    if (code.startsWith('22') || code.startsWith('54')) return new InvalidArgumentError('value', `PostgreSQL refused it: ${reason}`);
  }
  if (reason === 'Query read timeout') {
    return new StoreTimeoutError(`PostgreSQL did not answer within ${statementTimeoutMs} ms`, statementTimeoutMs, { cause: raw, ambiguous });
  }
  return new StoreUnavailableError(`PostgreSQL failed: ${reason}`, { cause: raw, ambiguous });
}
