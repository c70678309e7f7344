import { LiminalError, StoreUnavailableError } from '../errors.js';

/**
 * Contract errors pass through; anything else the backend raises (connection
 * lost, busy past its timeout, I/O error, corrupt file) is the backend failing.
 */
export function unavailable(backend: 'SQLite' | 'PostgreSQL', error: unknown): LiminalError {
  if (error instanceof LiminalError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`${backend} failed: ${reason}`, { cause: error });
}
