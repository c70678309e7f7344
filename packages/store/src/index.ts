export type { DurableStore, ListStreamsOptions, WatchOptions, StoredEntry, StoredValue } from './DurableStore.js';
export {
  CasConflictError,
  CheckFailedError,
  type CommitConflictCause,
  CommitConflictError,
  ConfigError,
  DecodeError,
  causeMessage,
  errorMessage,
  IndexedConflictError,
  InvalidArgumentError,
  LiminalError,
  SequenceConflictError,
  StoreClosedError,
  StoreCorruptError,
  StoreTimeoutError,
  StoreUnavailableError,
} from './errors.js';
export {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  assertPositiveSafeInteger,
  storeLimits,
} from './internal/validate.js';
export { MemoryStore } from './MemoryStore.js';
export { openStore } from './openStore.js';
export { parseStoreUrl, type StoreLocation } from './storeUrl.js';
export { PostgresStore, type PostgresStoreOptions } from './PostgresStore.js';
export { readBatches } from './readBatches.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteSynchronous } from './SqliteStore.js';
export { StoreBase } from './StoreBase.js';
export type { AppendOp, CasOp, CheckOp, CommitDurability, CommitOptions, CommitResult, DeleteStreamOp, WriteOp } from './WriteOp.js';
