import Database from 'better-sqlite3';
import type { StoredEntry, StoredValue } from './DurableStore.js';
import { CasConflictError, ConfigError, errorMessage, SequenceConflictError } from './errors.js';
import { prefixUpperBound } from './internal/prefixRange.js';
import { toUint8Array } from './internal/toUint8Array.js';
import { isOwnSqliteFailure, sqliteFailure } from './internal/sqliteFailure.js';
import { assertNoForeignTables, sqliteSchema } from './internal/sqliteSchema.js';
import { describe } from './internal/validate.js';
import { applyOps } from './internal/applyOps.js';
import { grownBy } from './internal/ChangeHub.js';
import { DataVersionPoller } from './internal/DataVersionPoller.js';
import { StoreBase } from './StoreBase.js';
import type { CommitDurability, CommitResult, WriteOp } from './WriteOp.js';

/**
 * SQLite's `synchronous` pragma in WAL mode:
 * - `FULL` (default): the WAL is fsynced at every commit, so an acknowledged
 *   append survives a process crash *and* a power loss.
 * - `NORMAL`: survives a process crash (the WAL is in the OS page cache), but
 *   the last commits can be lost on power loss; much faster on slow disks.
 * - `EXTRA`: like `FULL`, and also fsyncs the directory on journal changes.
 * - `OFF`: no fsync at all; for throwaway data only.
 */
export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteStoreOptions {
  readonly synchronous?: SqliteSynchronous;
  /**
   * How long a call waits for another connection's write lock (other
   * processes sharing the file) before failing with `StoreUnavailableError`.
   * Default 10 000 ms.
   */
  readonly busyTimeoutMs?: number;
  /**
   * How often `watch` checks for writes by other connections to the file
   * (other processes), while anything is watched. Default 50 ms; writes
   * through this store wake its watchers at once.
   */
  readonly watchPollMs?: number;
  /**
   * Most appends waiting for the end of the tick (the group-commit queue).
   * An append that finds it full first commits the waiting ones, inside the
   * call, so a burst of appends made without awaiting holds at most this many
   * payload copies. Default 4096.
   */
  readonly maxQueuedWrites?: number;
}

interface PendingAppend {
  readonly stream: string;
  readonly expectedSeq: number;
  readonly payloads: readonly Buffer[];
  resolve(sequence: number): void;
  reject(error: unknown): void;
}

const synchronousLevels: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

/**
 * The embedded store: one SQLite file in WAL mode, shared safely by several
 * processes (writers take the file's write lock with `BEGIN IMMEDIATE` and
 * wait up to `busyTimeoutMs` for it).
 *
 * better-sqlite3 is synchronous: reads, `cas` and `deleteStream` run to
 * completion on the calling thread, and appends are committed together at the
 * end of the tick they were made in (see `doAppendMany`).
 */
export class SqliteStore extends StoreBase {
  readonly #db: Database.Database;
  readonly #statements: ReturnType<typeof prepareStatements>;
  /** Appends waiting for the end of the tick; see `doAppendMany`. */
  readonly #pending: PendingAppend[] = [];
  /** Built once: better-sqlite3's `transaction()` wrapper is costly to build per call. */
  readonly #commitBatch: Database.Transaction<(batch: readonly PendingAppend[]) => (number | SequenceConflictError)[]>;
  readonly #cas: Database.Transaction<(key: string, expected: number, next: number) => void>;
  readonly #commit: Database.Transaction<(ops: readonly WriteOp[]) => CommitResult>;
  /** `synchronous` flushes at each commit (FULL, EXTRA): a `clientLifetime` commit then drops to NORMAL for itself. */
  readonly #flushes: boolean;
  readonly #syncNormal: Database.Statement;
  readonly #syncRestore: Database.Statement;
  readonly #poller: DataVersionPoller;
  #callsSinceYield = 0;
  readonly #busyTimeoutMs: number;
  readonly #maxQueuedWrites: number;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    super();
    // Checked first: a typo'd options value must be a ConfigError, not a TypeError from reading it.
    if (typeof options !== 'object' || options === null) throw new ConfigError('SqliteStore options must be an object');
    if (typeof path !== 'string' || path.trim().length === 0) throw new ConfigError('SQLite path must be a non-empty string');
    // SQLite would truncate the name at U+0000 and open another file.
    if (path.includes('\0')) throw new ConfigError(`SQLite path must not contain U+0000, got ${JSON.stringify(path)}`);
    // An in-memory database vanishes with the process: not a durable store. MemoryStore is the throwaway one.
    if (path === ':memory:' || path.startsWith('file::memory:')) {
      throw new ConfigError('SQLite :memory: is not durable; use MemoryStore (memory:) for a throwaway store, or a file path');
    }
    const synchronous = options.synchronous ?? 'FULL';
    if (!synchronousLevels.includes(synchronous)) {
      throw new ConfigError(`SQLite synchronous must be one of ${synchronousLevels.join(', ')}, got ${describe(synchronous)}`);
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new ConfigError(`SQLite busyTimeoutMs must be a non-negative safe integer, got ${describe(busyTimeoutMs)}`);
    }
    const watchPollMs = options.watchPollMs ?? 50;
    if (!Number.isSafeInteger(watchPollMs) || watchPollMs < 1) {
      throw new ConfigError(`SQLite watchPollMs must be a positive safe integer, got ${describe(watchPollMs)}`);
    }
    const maxQueuedWrites = options.maxQueuedWrites ?? 4096;
    if (!Number.isSafeInteger(maxQueuedWrites) || maxQueuedWrites < 1) {
      throw new ConfigError(`SQLite maxQueuedWrites must be a positive safe integer, got ${describe(maxQueuedWrites)}`);
    }
    this.#maxQueuedWrites = maxQueuedWrites;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#db = this.#classified(() => {
      const db = openFile(path, busyTimeoutMs);
      try {
        // Before anything is written, WAL mode included: a foreign file is left exactly as it was.
        assertNoForeignTables(db, path);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${synchronous}`);
        // Two processes creating the schema at once: the loser waits for the lock, then finds it exists.
        db.transaction(() => {
          assertNoForeignTables(db, path);
          db.exec(sqliteSchema);
        }).immediate();
        return db;
      } catch (error) {
        db.close();
        throw error;
      }
    });
    this.#statements = prepareStatements(this.#db);
    this.#commitBatch = this.#db.transaction((batch: readonly PendingAppend[]) =>
      batch.map((append) => this.#appendInTransaction(append)),
    );
    this.#cas = this.#db.transaction((key: string, expected: number, next: number) => {
      const row = this.#statements.readValue.get(key) as { value: number } | undefined;
      const actual = row?.value ?? 0;
      if (actual !== expected) throw new CasConflictError(key, expected, actual);
      this.#statements.writeValue.run(key, next);
    });
    this.#flushes = synchronous === 'FULL' || synchronous === 'EXTRA';
    this.#syncNormal = this.#db.prepare('PRAGMA synchronous = NORMAL');
    this.#syncRestore = this.#db.prepare(`PRAGMA synchronous = ${synchronous}`);
    this.#poller = new DataVersionPoller(this.#db, watchPollMs, () => this.watchedPrefixes(), (streams) => this.notifyGrown(streams));
    this.#commit = this.#db.transaction((ops: readonly WriteOp[]) =>
      applyOps(ops, {
        length: (stream) => this.#length(stream),
        counter: (key) => (this.#statements.readValue.get(key) as { value: number } | undefined)?.value,
        append: (stream, payloads, firstSeq) =>
          payloads.forEach((payload, index) =>
            // A Buffer view, not a copy: the statement copies the bytes itself, synchronously.
            this.#statements.insertEntry.run(stream, firstSeq + index, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)),
          ),
        setCounter: (key, value) => this.#statements.writeValue.run(key, value),
        deleteStream: (stream) => this.#statements.deleteStream.run(stream),
      }),
    );
  }

  /**
   * Group commit: appends that arrive in the same tick are written in one
   * transaction (one WAL sync for all of them), in call order, each checked
   * against the stream as the appends before it left it. Each caller gets its
   * own sequence or its own `SequenceConflictError`, and only after the commit.
   * A lone append is committed at the end of its tick, as before. The queue
   * is bounded: a full one is committed now, so the caller waits (SQLite
   * calls block anyway) and memory stays flat however many appends a loop
   * makes without awaiting.
   */
  protected doAppendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#pending.length >= this.#maxQueuedWrites) this.#commitPending();
      if (this.#pending.length === 0) queueMicrotask(() => this.#commitPending());
      // Copied now: the caller may reuse its buffers before the commit.
      this.#pending.push({ stream, expectedSeq, payloads: payloads.map((payload) => Buffer.from(payload)), resolve, reject });
    });
  }

  /**
   * Writes every pending append. Every other operation calls this first, so
   * one store applies calls in the order they were made.
   */
  #commitPending(): void {
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    let outcomes: (number | SequenceConflictError)[];
    try {
      const lone = batch.length === 1 ? batch[0]! : undefined;
      outcomes = lone !== undefined && lone.payloads.length === 1 ? [this.#appendOne(lone)] : this.#commitBatch.immediate(batch);
    } catch (error) {
      // A value SQLite refuses fails the transaction for every append in it:
      // each then commits alone, so only its own caller sees the error.
      if (batch.length > 1 && isOwnSqliteFailure(error)) {
        for (const append of batch) {
          this.#pending.push(append);
          this.#commitPending();
        }
        return;
      }
      const failure = sqliteFailure(error, this.#busyTimeoutMs);
      for (const append of batch) append.reject(failure);
      return;
    }
    const grown: string[] = [];
    batch.forEach((append, index) => {
      const outcome = outcomes[index]!;
      if (outcome instanceof SequenceConflictError) append.reject(outcome);
      else {
        append.resolve(outcome);
        if (append.payloads.length > 0) grown.push(append.stream);
      }
    });
    this.notifyGrown(grown);
  }

  /**
   * A lone single-entry append as one autocommit statement instead of four
   * (BEGIN IMMEDIATE, length check, INSERT, COMMIT): a single statement is
   * atomic in SQLite (it takes the write lock before reading), so the length
   * check and the insert cannot be split by another writer.
   */
  #appendOne({ stream, expectedSeq, payloads }: PendingAppend): number | SequenceConflictError {
    const { changes } = this.#statements.insertIfNext.run(stream, expectedSeq, payloads[0]!, stream, expectedSeq);
    if (changes === 1) return expectedSeq;
    return new SequenceConflictError(stream, expectedSeq, this.#length(stream));
  }

  #appendInTransaction({ stream, expectedSeq, payloads }: PendingAppend): number | SequenceConflictError {
    const actual = this.#length(stream);
    if (actual !== expectedSeq) return new SequenceConflictError(stream, expectedSeq, actual);
    payloads.forEach((payload, index) => this.#statements.insertEntry.run(stream, expectedSeq + index, payload));
    return expectedSeq;
  }

  protected async doReadFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    this.#commitPending();
    const rows = this.#classified(
      () => this.#statements.readFrom.all(stream, fromSeq, limit) as { seq: number; payload: Buffer }[],
    );
    return rows.map((row) => ({ sequence: row.seq, payload: toUint8Array(row.payload) }));
  }

  protected async doStreamLength(stream: string): Promise<number> {
    this.#commitPending();
    return this.#classified(() => this.#length(stream));
  }

  #length(stream: string): number {
    return (this.#statements.length.get(stream) as { length: number }).length;
  }

  protected async doListStreams(prefix: string, after: string | undefined, limit: number | undefined): Promise<string[]> {
    this.#commitPending();
    const rows = this.#classified(
      () =>
        this.#statements.listStreams.all({
          prefix,
          bound: prefixUpperBound(prefix) ?? null,
          after: after ?? null,
          limit: limit ?? -1,
        }) as { stream: string }[],
    );
    return rows.map((row) => row.stream);
  }

  protected async doDeleteStream(stream: string): Promise<void> {
    this.#commitPending();
    this.#classified(() => this.#statements.deleteStream.run(stream));
  }

  protected async doListValues(prefix: string, after: string | undefined, limit: number | undefined): Promise<StoredValue[]> {
    this.#commitPending();
    const rows = this.#classified(
      () =>
        this.#statements.listValues.all({
          prefix,
          bound: prefixUpperBound(prefix) ?? null,
          after: after ?? null,
          limit: limit ?? -1,
        }) as { key: string; value: number }[],
    );
    return rows.map(({ key, value }) => ({ key, value }));
  }

  protected async doReadValue(key: string): Promise<number | undefined> {
    this.#commitPending();
    const row = this.#classified(() => this.#statements.readValue.get(key) as { value: number } | undefined);
    return row?.value;
  }

  protected async doCas(key: string, expected: number, next: number): Promise<void> {
    this.#commitPending();
    this.#classified(() => this.#cas.immediate(key, expected, next));
  }

  /**
   * One `BEGIN IMMEDIATE` transaction, after the pending appends (so calls
   * stay in call order); a conflict thrown by `applyOps` rolls it back.
   */
  protected async doCommit(ops: readonly WriteOp[], durability: CommitDurability): Promise<CommitResult> {
    this.#commitPending();
    const result = this.#classified(() => (durability === 'clientLifetime' && this.#flushes ? this.#unflushed(ops) : this.#commit.immediate(ops)));
    this.notifyGrown(grownBy(ops));
    return result;
  }

  /**
   * A `clientLifetime` commit at `synchronous = NORMAL`: written to the WAL,
   * not fsynced. The WAL is only ever appended, so the next flushed commit's
   * fsync makes this one durable too, and a power loss drops a suffix of
   * commits, never one before a flushed one.
   */
  #unflushed(ops: readonly WriteOp[]): CommitResult {
    this.#syncNormal.run();
    try {
      return this.#commit.immediate(ops);
    } finally {
      this.#syncRestore.run();
    }
  }

  /**
   * better-sqlite3 answers synchronously, so an awaited call resolves in
   * microtasks and a loop of them would never let timers or sockets run
   * (30k reads starved a 50 ms interval for 5.7 s): every 64th call yields
   * with `setImmediate`.
   */
  protected override paced<T>(result: Promise<T>): Promise<T> {
    // The other 63 calls are passed through untouched, without an await of their own (the gain on a lone
    // append was within the benchmark's noise: bench/ANALYSIS.md, suite 1).
    if (++this.#callsSinceYield < 64) return result;
    this.#callsSinceYield = 0;
    return result.then((value) => new Promise((resolve) => setImmediate(resolve, value)));
  }

  protected override watchStarted(): void {
    this.#classified(() => this.#poller.start());
  }

  protected override watchStopped(): void {
    this.#poller.stop();
  }

  /** Runs `work`, turning a SQLite failure into the store's typed error (see `sqliteFailure`). */
  #classified<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw sqliteFailure(error, this.#busyTimeoutMs);
    }
  }

  protected async doClose(): Promise<void> {
    // Appends accepted before close() still get their commit and their answer.
    this.#commitPending();
    this.#poller.stop();
    this.#classified(() => this.#db.close());
  }
}

function prepareStatements(db: Database.Database) {
  return {
    length: db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS length FROM entries WHERE stream = ?'),
    insertEntry: db.prepare('INSERT INTO entries (stream, seq, payload) VALUES (?, ?, ?)'),
    insertIfNext: db.prepare(`
      INSERT INTO entries (stream, seq, payload)
      SELECT ?, ?, ?
      WHERE (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries WHERE stream = ?) = ?`),
    readFrom: db.prepare('SELECT seq, payload FROM entries WHERE stream = ? AND seq >= ? ORDER BY seq LIMIT ?'),
    // Hops from one name to the next with one index seek each, so a long
    // stream costs no more than a short one. BINARY collation compares UTF-8
    // bytes, which is code point order. Only the last row can be past the
    // prefix, so the LIMIT inside the recursion is exact.
    listStreams: db.prepare(`
      WITH RECURSIVE names (stream) AS (
        SELECT (SELECT stream FROM entries
                WHERE stream >= @prefix AND (@after IS NULL OR stream > @after)
                ORDER BY stream LIMIT 1)
        UNION ALL
        SELECT (SELECT next.stream FROM entries AS next
                WHERE next.stream > names.stream
                ORDER BY next.stream LIMIT 1)
        FROM names
        WHERE names.stream IS NOT NULL AND (@bound IS NULL OR names.stream < @bound)
        LIMIT @limit
      )
      SELECT stream FROM names WHERE stream IS NOT NULL AND (@bound IS NULL OR stream < @bound)`),
    deleteStream: db.prepare('DELETE FROM entries WHERE stream = ?'),
    // The primary key's BINARY collation is code point order, like listStreams.
    listValues: db.prepare(`
      SELECT key, value FROM counters
      WHERE key >= @prefix AND (@bound IS NULL OR key < @bound) AND (@after IS NULL OR key > @after)
      ORDER BY key LIMIT @limit`),
    readValue: db.prepare('SELECT value FROM counters WHERE key = ?'),
    writeValue: db.prepare(
      'INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  };
}

/** A path better-sqlite3 cannot open at all (its directory is missing) is a `ConfigError`, like SQLITE_CANTOPEN. */
function openFile(path: string, busyTimeoutMs: number): Database.Database {
  try {
    return new Database(path, { timeout: busyTimeoutMs });
  } catch (error) {
    if (error instanceof Database.SqliteError) throw error;
    throw new ConfigError(`SQLite cannot open ${JSON.stringify(path)}: ${errorMessage(error)}`, { cause: error });
  }
}
