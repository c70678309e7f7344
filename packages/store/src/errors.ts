/**
 * Base class of every error Liminal raises across a package boundary.
 * `code` is stable and meant for programs; `message` is for people.
 */
export abstract class LiminalError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The message of anything a `catch` receives, for a one-line report: an
 * `Error`'s `message`, or the `String()` form of a thrown non-Error
 * (JavaScript lets any value be thrown).
 */
export function errorMessage(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/**
 * For a one-line report of why a store could not be used: the message of the
 * driver's error a `LiminalError` wraps (`connect ECONNREFUSED 127.0.0.1:5432`,
 * `file is not a database`), which is what the user acts on; otherwise
 * `errorMessage(thrown)`.
 */
export function causeMessage(thrown: unknown): string {
  if (thrown instanceof LiminalError && thrown.cause instanceof Error) return thrown.cause.message;
  return errorMessage(thrown);
}

/** An append's `expectedSeq` was not the stream's current length; nothing was written. */
export class SequenceConflictError extends LiminalError {
  readonly code = 'SEQUENCE_CONFLICT';

  constructor(
    readonly stream: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`stream ${JSON.stringify(stream)}: expected sequence ${expected}, but the stream length is ${actual}`);
  }
}

/** A compare-and-swap found a different stored value (absent counts as 0); nothing was written. */
export class CasConflictError extends LiminalError {
  readonly code = 'CAS_CONFLICT';

  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`counter ${JSON.stringify(key)}: expected ${expected}, but the stored value is ${actual}`);
  }
}

/** An argument was rejected before any storage was touched. */
export class InvalidArgumentError extends LiminalError {
  readonly code = 'INVALID_ARGUMENT';

  constructor(
    readonly argument: string,
    readonly reason: string,
  ) {
    super(`invalid ${argument}: ${reason}`);
  }
}

/** The store was closed; no further calls are served. */
export class StoreClosedError extends LiminalError {
  readonly code = 'STORE_CLOSED';

  constructor() {
    super('the store is closed');
  }
}

/** A configuration value (store URL, policy, option) cannot be used. */
export class ConfigError extends LiminalError {
  readonly code = 'CONFIG';
}

/**
 * The storage itself is damaged or is not a store (a SQLite file that is not
 * a database, or whose pages are corrupt). Retrying cannot help: restore it
 * from a backup or point the store elsewhere. Nothing was written.
 */
export class StoreCorruptError extends LiminalError {
  readonly code = 'STORE_CORRUPT';
}

/** Stored or received bytes are not a valid encoding of the expected record. */
export class DecodeError extends LiminalError {
  readonly code = 'DECODE';
}

/** A `check` op found a different counter value (absent counts as 0); nothing was written. */
export class CheckFailedError extends LiminalError {
  readonly code = 'CHECK_FAILED';

  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`counter ${JSON.stringify(key)}: expected it to equal ${expected}, but the stored value is ${actual}`);
  }
}

/** The cause of a `CommitConflictError`: the conflict op `index` would have raised on its own. */
export type CommitConflictCause = SequenceConflictError | CasConflictError | CheckFailedError;

/**
 * Base of the errors that name one failed condition of a commit by its
 * position (`index`, 0-based) and carry that condition's own conflict as
 * `cause`. Nothing of the commit was written. Each layer that builds a commit
 * from a caller's list (the store's ops, `processOnce`'s conditions and
 * effects) has its own subclass, so the `index` is always one the caller gave.
 */
export abstract class IndexedConflictError extends LiminalError {
  constructor(
    readonly index: number,
    override readonly cause: CommitConflictCause,
    /** What failed, for the message: `commit op 2 conflicted`. */
    what: string,
  ) {
    super(`${what}: ${cause.message}`, { cause });
  }
}

/**
 * A condition of a `commit` did not hold: op `index` (0-based, in the list
 * given to `commit`) failed with `cause`. Nothing of the commit was written.
 */
export class CommitConflictError extends IndexedConflictError {
  readonly code = 'COMMIT_CONFLICT';

  constructor(index: number, cause: CommitConflictCause) {
    super(index, cause, `commit op ${index} conflicted`);
  }
}

/**
 * The storage backend cannot be reached or failed outside the store's contract.
 *
 * `ambiguous` is true when the write may or may not have committed (the
 * connection was lost while the commit was in flight): a caller that needs
 * certainty reads the state back before retrying. When false, nothing was
 * written and the call can simply be retried.
 */
export class StoreUnavailableError extends LiminalError {
  readonly code: string = 'STORE_UNAVAILABLE';
  readonly ambiguous: boolean;

  constructor(message: string, options: { cause?: unknown; ambiguous?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.ambiguous = options.ambiguous ?? false;
  }
}

/**
 * A call took longer than the store's `statementTimeoutMs` (waiting for a
 * lock, or a network path that stopped answering) and was abandoned. It is a
 * `StoreUnavailableError` (retry later), with its own code; `ambiguous` as
 * for any unavailability.
 */
export class StoreTimeoutError extends StoreUnavailableError {
  override readonly code = 'TIMEOUT';

  constructor(
    message: string,
    readonly timeoutMs: number,
    options: { cause?: unknown; ambiguous?: boolean } = {},
  ) {
    super(message, options);
  }
}
