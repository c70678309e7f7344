import pg from 'pg';
import type { StoredEntry, StoredValue } from './DurableStore.js';
import { CasConflictError, CommitConflictError, ConfigError, LiminalError, SequenceConflictError } from './errors.js';
import { grownBy } from './internal/ChangeHub.js';
import { PgChangeFeed } from './internal/PgChangeFeed.js';
import { changeChannels } from './internal/pgChangeNotice.js';
import { commitParams, commitResult, conflictOf, encodeCommit, type EncodedCommit } from './internal/pgCommit.js';
import { commitConflictState, commitFunctions, type CommitFunctions } from './internal/pgCommitFunctions.js';
import { pgCode, statements } from './internal/pgStatements.js';
import { isTransient, retryTransient } from './internal/pgTransient.js';
import { prefixUpperBound } from './internal/prefixRange.js';
import { toUint8Array } from './internal/toUint8Array.js';
import { markSentWriteLost, pgFailure } from './internal/pgFailure.js';
import { describe } from './internal/validate.js';
import { StoreBase } from './StoreBase.js';
import type { CommitResult, WriteOp } from './WriteOp.js';

export interface PostgresStoreOptions {
  /** Schema holding the store's tables, created on first use. Default `liminal`. */
  readonly schema?: string;
  /** Most connections the pool opens. Default 10. */
  readonly poolSize?: number;
  /**
   * Bounds every statement (lock waits included): the server cancels it, and
   * a client-side timer 2 s later abandons a connection whose network path
   * stopped answering. Either way the call rejects with `StoreTimeoutError`.
   * Default 30 000 ms.
   */
  readonly statementTimeoutMs?: number;
  /**
   * The server ends a session of this store that sits inside a transaction
   * without sending its next statement for this long (PostgreSQL's
   * `idle_in_transaction_session_timeout`), which rolls the transaction back
   * and frees its row locks. A process paused mid-commit (SIGSTOP, a VM
   * freeze, a stop-the-world pause) would otherwise block every other
   * process writing the same rows until it resumes. Default 5 000 ms.
   */
  readonly idleInTransactionTimeoutMs?: number;
}

const uniqueViolation = '23505';

/** Bounds one group-commit statement; more waiting appends go to the next one. */
const maxBatchSize = 512;

interface PendingAppend {
  readonly stream: string;
  readonly expectedSeq: number;
  readonly payload: Buffer;
  resolve(sequence: number): void;
  reject(error: unknown): void;
}

/** Appends committed together, keyed by stream (one per stream). */
type AppendBatch = Map<string, PendingAppend>;

interface PendingCommit {
  readonly commit: EncodedCommit;
  resolve(result: CommitResult): void;
  reject(error: unknown): void;
}

/** Commits run together in one statement, each in a block of its own; no two share a target. */
interface CommitBatch {
  readonly commits: PendingCommit[];
  readonly targets: Set<string>;
}

/** Bounds one group-commit transaction of `commit` calls. */
const maxCommitsPerBatch = 64;

/** A commit of a group that the server refused a value of: it runs again alone, so its caller gets the server's own error. */
const runAlone = Symbol('runAlone');

/**
 * A conflict is re-checked against the stored state; when a concurrent delete
 * or write made the state match the caller's expectation again, the operation
 * is simply retried, this many times at most.
 */
const maxAttempts = 3;

/**
 * The shared store: many processes or machines use one PostgreSQL database.
 *
 * Every append is one statement: it inserts only when the entry before it
 * exists (locked `FOR KEY SHARE`, so a concurrent `deleteStream` cannot slip
 * in between), and the primary key (stream, seq) makes two writers racing for
 * one sequence end with exactly one winner; the loser's unique violation
 * becomes a `SequenceConflictError`.
 */
export class PostgresStore extends StoreBase {
  readonly #pool: pg.Pool;
  readonly #sql: ReturnType<typeof statements>;
  readonly #functions: CommitFunctions;
  readonly #schema: string;
  readonly #statementTimeoutMs: number;
  #ready: Promise<void> | undefined;
  /** Single appends waiting for a commit, in arrival order; see `doAppend`. */
  readonly #queue: (AppendBatch | CommitBatch)[] = [];
  #committing: Promise<void> | undefined;
  readonly #feed: PgChangeFeed;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    super();
    // Checked first: a typo'd options value must be a ConfigError, not a TypeError from reading it.
    if (typeof options !== 'object' || options === null) throw new ConfigError('PostgresStore options must be an object');
    if (typeof connectionString !== 'string' || connectionString.length === 0) {
      throw new ConfigError('PostgreSQL connection string must be a non-empty string');
    }
    this.#schema = options.schema ?? 'liminal';
    if (typeof this.#schema !== 'string' || this.#schema.length === 0 || this.#schema.includes('\0') || Buffer.byteLength(this.#schema) > 63) {
      throw new ConfigError(`PostgreSQL schema must be a name of 1 to 63 bytes, got ${JSON.stringify(this.#schema)}`);
    }
    // CREATE SCHEMA refuses pg_* names, and pg_catalog / information_schema belong to the server.
    if (/^pg_/i.test(this.#schema) || this.#schema.toLowerCase() === 'information_schema') {
      throw new ConfigError(`PostgreSQL schema ${JSON.stringify(this.#schema)} is reserved by the server; choose another name`);
    }
    const poolSize = options.poolSize ?? 10;
    if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
      throw new ConfigError(`PostgreSQL poolSize must be a positive safe integer, got ${describe(poolSize)}`);
    }
    this.#statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    if (!Number.isSafeInteger(this.#statementTimeoutMs) || this.#statementTimeoutMs < 1) {
      throw new ConfigError(`PostgreSQL statementTimeoutMs must be a positive safe integer, got ${describe(this.#statementTimeoutMs)}`);
    }
    const idleInTransactionTimeoutMs = options.idleInTransactionTimeoutMs ?? 5_000;
    if (!Number.isSafeInteger(idleInTransactionTimeoutMs) || idleInTransactionTimeoutMs < 1) {
      throw new ConfigError(`PostgreSQL idleInTransactionTimeoutMs must be a positive safe integer, got ${describe(idleInTransactionTimeoutMs)}`);
    }
    this.#pool = new pg.Pool({
      connectionString,
      max: poolSize,
      connectionTimeoutMillis: 10_000,
      statement_timeout: this.#statementTimeoutMs,
      idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
      query_timeout: this.#statementTimeoutMs + 2_000,
      // A peer that vanished (host down, path frozen) is found by the kernel instead of waiting forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle client whose server went away (restart, failover) emits here;
    // the pool has already discarded it and the next call connects afresh.
    // Without a listener the error would crash the process.
    this.#pool.on('error', () => undefined);
    // A checked-out client whose connection drops between statements emits 'error' on itself, where the pool
    // does not listen; the call it serves already rejects (StoreUnavailableError), so the event only must not crash.
    this.#pool.on('connect', (client) => client.on('error', () => undefined));
    const channels = changeChannels(this.#schema);
    this.#sql = statements(pg.escapeIdentifier(this.#schema), channels.lists);
    this.#functions = commitFunctions(pg.escapeIdentifier(this.#schema), channels.lists);
    this.#feed = new PgChangeFeed(
      { connectionString, channels },
      (names) => this.notifyGrown(names),
      () => void this.#resync(),
    );
  }

  protected override watchStarted(): void {
    this.#feed.listen();
  }

  protected override watchStopped(): void {
    void this.#feed.unlisten();
  }

  /** Committed writes: wake this process's watchers now (other processes' heard the commit's own NOTIFY). */
  #grew(streams: readonly string[]): void {
    if (streams.length > 0) this.notifyGrown(streams);
  }

  /**
   * Notifications may have been missed (the LISTEN connection was just
   * (re)opened): wake every watcher for every stream under its prefix, so a
   * write made meanwhile is not left unseen.
   */
  async #resync(): Promise<void> {
    try {
      for (const prefix of this.watchedPrefixes()) {
        for (let after: string | undefined; ; ) {
          const names = await this.doListStreams(prefix, after, 1_000);
          this.notifyGrown(names);
          if (names.length < 1_000) break;
          after = names.at(-1);
        }
      }
    } catch {
      // The store is unreachable right now; the listener reconnects and resynchronises again.
    }
  }

  /** A one-op commit, queued like every write so one store applies calls in call order. */
  protected async doAppendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    try {
      await this.doCommit([{ op: 'append', stream, payloads, expectedSeq }]);
      return expectedSeq;
    } catch (error) {
      throw error instanceof CommitConflictError ? error.cause : error;
    }
  }

  async #appendAll(stream: string, expectedSeq: number, payload: Buffer): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const inserted = await this.#insertUnlessTaken(stream, expectedSeq, payload);
      if (inserted) return expectedSeq;
      const actual = await this.doStreamLength(stream);
      if (actual !== expectedSeq || attempt === maxAttempts) throw new SequenceConflictError(stream, expectedSeq, actual);
    }
  }

  /**
   * Group commit: single appends that arrive together (in the same tick, or
   * while a commit is in flight) are written by one statement, so they share
   * one transaction and one WAL flush. Each caller still gets its own
   * sequence or its own `SequenceConflictError`, and only once the statement
   * has committed. A lone caller's append runs as before, one statement.
   *
   * A batch holds at most one append per stream: an append checks its
   * predecessor against the state before the statement, so two appends to one
   * stream go to consecutive batches, in call order.
   */
  protected override doAppend(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // Copied now: the caller may reuse its buffer before the batch is written.
      const append: PendingAppend = { stream, expectedSeq, payload: Buffer.from(payload), resolve, reject };
      const last = this.#queue.at(-1);
      if (last instanceof Map && last.size < maxBatchSize && !last.has(stream)) last.set(stream, append);
      else this.#queue.push(new Map([[stream, append]]));
      this.#committing ??= this.#commitQueued();
    });
  }

  async #commitQueued(): Promise<void> {
    // Let every append of the current tick join the first batch.
    await Promise.resolve();
    for (let batch = this.#queue.shift(); batch !== undefined; batch = this.#queue.shift()) {
      if (batch instanceof Map) await this.#commitBatch([...batch.values()]);
      else await this.#commitCommits(batch.commits);
    }
    this.#committing = undefined;
  }

  async #commitBatch(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      await this.#commitOne(batch[0]!);
      return;
    }
    // One lock order for every batch of every process: rows are inserted in
    // stream order, so two batches sharing streams never wait on each other
    // in a cycle (arrival order deadlocked two processes appending in
    // opposite orders).
    batch.sort((a, b) => (a.stream < b.stream ? -1 : 1));
    let written: Set<string>;
    try {
      await this.#ensureSchema();
      const result = await retryTransient(() =>
        this.#sendWrite<{ streams: string[] }>({
          ...this.#sql.appendBatch,
          values: [batch.map((append) => append.stream), batch.map((append) => append.expectedSeq), batch.map((append) => append.payload)],
        }),
      );
      written = new Set(result.rows[0]?.streams ?? []);
    } catch (error) {
      // A value PostgreSQL refuses fails the statement for everyone in it:
      // each append then runs alone, so only its own caller sees the error.
      if (isOwnFailure(error)) {
        await Promise.all(batch.map((append) => this.#commitOne(append)));
        return;
      }
      const failure = this.#failure(error);
      for (const append of batch) append.reject(failure);
      return;
    }
    const refused = batch.filter((append) => !written.has(append.stream));
    for (const append of batch) if (written.has(append.stream)) append.resolve(append.expectedSeq);
    this.#grew([...written]);
    if (refused.length > 0) await this.#settleRefused(refused);
  }

  /**
   * A lone append: the one-row statement straight away (no array encoding,
   * no retry loop); only a refused append goes on to the conflict check.
   */
  async #commitOne(append: PendingAppend): Promise<void> {
    let inserted: boolean;
    try {
      inserted = await this.#insertUnlessTaken(append.stream, append.expectedSeq, append.payload);
    } catch (error) {
      append.reject(error);
      return;
    }
    if (inserted) {
      append.resolve(append.expectedSeq);
      this.#grew([append.stream]);
    }
    else await this.#settleRefused([append]);
  }

  /** Appends the batch statement skipped conflict, unless a concurrent delete made their expectation true again. */
  async #settleRefused(refused: PendingAppend[]): Promise<void> {
    let lengths: Map<string, number>;
    try {
      const result = await this.#pool.query<{ stream: string; length: string }>({
        ...this.#sql.lengths,
        values: [refused.map((append) => append.stream)],
      });
      lengths = new Map(result.rows.map((row) => [row.stream, Number(row.length)]));
    } catch (error) {
      const failure = this.#failure(error);
      for (const append of refused) append.reject(failure);
      return;
    }
    await Promise.all(
      refused.map((append) => {
        const actual = lengths.get(append.stream) ?? 0;
        if (actual !== append.expectedSeq) {
          append.reject(new SequenceConflictError(append.stream, append.expectedSeq, actual));
          return Promise.resolve();
        }
        return this.#appendAll(append.stream, append.expectedSeq, append.payload).then((sequence) => {
          append.resolve(sequence);
          this.#grew([append.stream]);
        }, (error: unknown) => append.reject(error));
      }),
    );
  }

  /** True when the entry was written; false when the stream's length was not `expectedSeq`. */
  async #insertUnlessTaken(stream: string, expectedSeq: number, payload: Buffer): Promise<boolean> {
    await this.#ensureSchema();
    try {
      const result = await retryTransient(() => this.#sendWrite({ ...this.#sql.appendOne, values: [stream, expectedSeq, payload] }));
      return result.rowCount === 1;
    } catch (error) {
      if (pgCode(error) === uniqueViolation) return false;
      throw this.#failure(error);
    }
  }

  /**
   * Group commit of `commit` calls: those queued together are sent as one
   * call of the commit function (one statement, one transaction), each in a
   * block of its own, so one caller's conflict (or an op PostgreSQL refuses)
   * is rolled back alone and the others still commit. They queue with single
   * appends, so one store applies calls in call order.
   */
  protected doCommit(ops: readonly WriteOp[]): Promise<CommitResult> {
    return new Promise((resolve, reject) => {
      const pending: PendingCommit = { commit: encodeCommit(ops), resolve, reject };
      const { targets } = pending.commit;
      const last = this.#queue.at(-1);
      // A commit sharing a target with the last batch waits for the next one,
      // so commits on one stream or counter keep their call order.
      if (last !== undefined && !(last instanceof Map) && last.commits.length < maxCommitsPerBatch && !targets.some((target) => last.targets.has(target))) {
        last.commits.push(pending);
        for (const target of targets) last.targets.add(target);
      } else this.#queue.push({ commits: [pending], targets: new Set(targets) });
      this.#committing ??= this.#commitQueued();
    });
  }

  /**
   * The batch's commits are disjoint, so they may run in any order: sorted
   * by first target, which keeps most batches in the one lock order. Batches
   * whose targets interleave can still deadlock with another process's; the
   * victim's commits then run again each in its own statement, where the
   * ops' own lock order rules out a cycle.
   */
  async #commitCommits(commits: PendingCommit[]): Promise<void> {
    commits.sort((a, b) => (a.commit.targets[0]! < b.commit.targets[0]! ? -1 : 1));
    try {
      await this.#settleCommits(commits, await this.#runCommits(commits));
    } catch (error) {
      if (!isTransient(error)) {
        const failure = this.#failure(error);
        for (const pending of commits) pending.reject(failure);
        return;
      }
      await Promise.all(commits.map((pending) => this.#commitAlone(pending)));
    }
  }

  async #commitAlone(pending: PendingCommit): Promise<void> {
    try {
      await this.#settleCommits([pending], await retryTransient(() => this.#runCommits([pending])));
    } catch (error) {
      pending.reject(this.#failure(error));
    }
  }

  async #settleCommits(commits: readonly PendingCommit[], outcomes: readonly (CommitResult | LiminalError | typeof runAlone)[]): Promise<void> {
    const alone: PendingCommit[] = [];
    commits.forEach((pending, index) => {
      const outcome = outcomes[index]!;
      if (outcome === runAlone) alone.push(pending);
      else if (outcome instanceof LiminalError) pending.reject(outcome);
      else {
        pending.resolve(outcome);
        this.#grew(grownBy(pending.commit.ops));
      }
    });
    await Promise.all(alone.map((pending) => this.#commitAlone(pending)));
  }

  /**
   * One statement for all `commits` (see `commitFunctions`). A commit whose
   * ops conflict gets its `CommitConflictError`; a lone commit that
   * PostgreSQL refuses gets its error, one of a group runs again alone; a
   * failure of the statement itself is thrown for all.
   */
  async #runCommits(commits: readonly PendingCommit[]): Promise<(CommitResult | LiminalError | typeof runAlone)[]> {
    await this.#ensureSchema();
    let rows: { commit_no: number; outcome_state: string; outcome_detail: string | null }[];
    try {
      ({ rows } = await this.#sendWrite({ ...this.#functions.call, values: commitParams(commits.map((pending) => pending.commit)) }));
    } catch (error) {
      const [only] = commits;
      if (commits.length === 1 && only !== undefined && error instanceof pg.DatabaseError) {
        if (error.code === commitConflictState) return [conflictOf(only.commit.ops, error.detail)];
        if (isOwnFailure(error)) return [this.#failure(error)];
      }
      throw error;
    }
    const failed = new Map(rows.map((row) => [row.commit_no - 1, row]));
    return commits.map((pending, index) => {
      const row = failed.get(index);
      if (row === undefined) return commitResult(pending.commit.ops);
      return row.outcome_state === commitConflictState ? conflictOf(pending.commit.ops, row.outcome_detail ?? undefined) : runAlone;
    });
  }

  protected async doReadFrom(stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> {
    const result = await this.#query<{ seq: string; payload: Buffer }>(this.#sql.readFrom, [stream, fromSeq, limit]);
    return result.rows.map((row) => ({ sequence: Number(row.seq), payload: toUint8Array(row.payload) }));
  }

  protected async doStreamLength(stream: string): Promise<number> {
    const result = await this.#query<{ length: string }>(this.#sql.length, [stream]);
    return Number(result.rows[0]?.length ?? 0);
  }

  protected async doListStreams(prefix: string, after: string | undefined, limit: number | undefined): Promise<string[]> {
    const result = await this.#query<{ stream: string }>(this.#sql.listStreams, [
      prefix,
      prefixUpperBound(prefix) ?? null,
      after ?? null,
      limit ?? null,
    ]);
    return result.rows.map((row) => row.stream);
  }

  /**
   * Deletes until nothing is left: an append that locked the last entry
   * before the first pass commits one more entry, which the next pass sees.
   * Appends arriving later find their predecessor gone and conflict.
   */
  protected async doDeleteStream(stream: string): Promise<void> {
    await this.#transaction(async (client) => {
      let deleted: number | null;
      do {
        deleted = (await client.query(this.#sql.deleteStream, [stream])).rowCount;
      } while (deleted !== null && deleted > 0);
    });
  }

  protected async doListValues(prefix: string, after: string | undefined, limit: number | undefined): Promise<StoredValue[]> {
    const result = await this.#query<{ key: string; value: string }>(this.#sql.listValues, [
      prefix,
      prefixUpperBound(prefix) ?? null,
      after ?? null,
      limit ?? null,
    ]);
    return result.rows.map((row) => ({ key: row.key, value: Number(row.value) }));
  }

  protected async doReadValue(key: string): Promise<number | undefined> {
    const result = await this.#query<{ value: string }>(this.#sql.readValue, [key]);
    const row = result.rows[0];
    return row === undefined ? undefined : Number(row.value);
  }

  protected async doCas(key: string, expected: number, next: number): Promise<void> {
    // An absent counter holds 0, so only expected = 0 may create the row.
    const sql = expected === 0 ? this.#sql.casFromZero : this.#sql.casUpdate;
    for (let attempt = 1; ; attempt++) {
      await this.#ensureSchema();
      const result = await this.#sendWrite({ ...sql, values: [key, expected, next] }).catch((error: unknown) => {
        throw this.#failure(error);
      });
      if (result.rowCount === 1) return;
      const actual = (await this.doReadValue(key)) ?? 0;
      if (actual !== expected || attempt === maxAttempts) throw new CasConflictError(key, expected, actual);
    }
  }

  protected async doClose(): Promise<void> {
    // Appends accepted before close() still get their commit and their answer.
    await this.#committing;
    await this.#feed.unlisten();
    await this.#pool.end();
  }

  /**
   * One autocommit write statement. A failure to get a connection is before
   * anything was sent; a connection lost after sending is `SentWriteLost`
   * (the statement may have committed), and that connection is discarded.
   */
  async #sendWrite<Row extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<Row>> {
    const client = await this.#pool.connect();
    try {
      const result = await client.query<Row>(config);
      client.release();
      return result;
    } catch (error) {
      client.release(!(error instanceof pg.DatabaseError));
      return markSentWriteLost(error);
    }
  }

  #failure(error: unknown): LiminalError {
    return pgFailure(error, this.#statementTimeoutMs);
  }

  async #query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: string | pg.QueryConfig,
    values: unknown[],
  ): Promise<pg.QueryResult<Row>> {
    await this.#ensureSchema();
    try {
      return await this.#pool.query<Row>(typeof statement === 'string' ? { text: statement, values } : { ...statement, values });
    } catch (error) {
      throw this.#failure(error);
    }
  }

  async #transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.#ensureSchema();
    try {
      await this.#inTransaction(work);
    } catch (error) {
      throw this.#failure(error);
    }
  }

  async #inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT').catch(markSentWriteLost);
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A client that failed mid-transaction may be broken; never reuse it.
      client.release(true);
      throw error;
    }
  }

  /** Creates the schema once per store; a failed attempt is retried by the next call. */
  #ensureSchema(): Promise<void> {
    this.#ready ??= this.#createSchema().catch((error: unknown) => {
      this.#ready = undefined;
      throw this.#failure(error);
    });
    return this.#ready;
  }

  #createSchema(): Promise<void> {
    return this.#inTransaction(async (client) => {
      // Concurrent `CREATE ... IF NOT EXISTS` can still collide in the
      // catalogs; one lock per schema name makes processes take turns.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`liminal-store:${this.#schema}`]);
      for (const ddl of this.#sql.schema) await client.query(ddl);
      // A schema made by an older version lacks the functions of this one. They are
      // created only when missing: replacing one would make every session using it recompile it.
      const { functions } = this.#functions;
      const existing = await client.query<{ proname: string }>(
        'SELECT proname FROM pg_catalog.pg_proc WHERE pronamespace = $1::regnamespace AND proname = ANY($2::text[])',
        [pg.escapeIdentifier(this.#schema), functions.map((fn) => fn.name)],
      );
      const present = new Set(existing.rows.map((row) => row.proname));
      for (const fn of functions) if (!present.has(fn.name)) await client.query(fn.ddl);
    });
  }
}

/**
 * A failure that belongs to one commit of a group (its conflict, or a value
 * PostgreSQL refuses: data exception, constraint, program limit), after which
 * rolling back to its savepoint leaves the others intact.
 */
function isOwnFailure(error: unknown): boolean {
  if (error instanceof LiminalError) return true;
  if (!(error instanceof pg.DatabaseError)) return false;
  const sqlClass = error.code?.slice(0, 2);
  return sqlClass === '22' || sqlClass === '23' || sqlClass === '54';
}
