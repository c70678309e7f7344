import { createHash } from 'node:crypto';
import pg from 'pg';
import type { StoredEntry, StoredValue } from './DurableStore.js';
import { CasConflictError, ConfigError, SequenceConflictError } from './errors.js';
import { prefixUpperBound } from './internal/prefixRange.js';
import { toUint8Array } from './internal/toUint8Array.js';
import { unavailable } from './internal/unavailable.js';
import { StoreBase } from './StoreBase.js';

export interface PostgresStoreOptions {
  /** Schema holding the store's tables, created on first use. Default `liminal`. */
  readonly schema?: string;
  /** Most connections the pool opens. Default 10. */
  readonly poolSize?: number;
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
  readonly #schema: string;
  #ready: Promise<void> | undefined;
  /** Single appends waiting for a commit, in arrival order; see `doAppend`. */
  readonly #queue: AppendBatch[] = [];
  #committing: Promise<void> | undefined;

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
    const poolSize = options.poolSize ?? 10;
    if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
      throw new ConfigError(`PostgreSQL poolSize must be a positive safe integer, got ${String(poolSize)}`);
    }
    this.#pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 10_000 });
    // An idle client whose server went away (restart, failover) emits here;
    // the pool has already discarded it and the next call connects afresh.
    // Without a listener the error would crash the process.
    this.#pool.on('error', () => undefined);
    this.#sql = statements(pg.escapeIdentifier(this.#schema));
  }

  protected async doAppendMany(stream: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    if (payloads.length === 0) {
      const actual = await this.doStreamLength(stream);
      if (actual !== expectedSeq) throw new SequenceConflictError(stream, expectedSeq, actual);
      return expectedSeq;
    }
    // Copied now: the caller may reuse its buffers before the statement is sent.
    return this.#appendAll(stream, expectedSeq, payloads.map((payload) => Buffer.from(payload)));
  }

  async #appendAll(stream: string, expectedSeq: number, buffers: Buffer[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const inserted = await this.#insertUnlessTaken(stream, expectedSeq, buffers);
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
      if (last !== undefined && last.size < maxBatchSize && !last.has(stream)) last.set(stream, append);
      else this.#queue.push(new Map([[stream, append]]));
      this.#committing ??= this.#commitQueued();
    });
  }

  async #commitQueued(): Promise<void> {
    // Let every append of the current tick join the first batch.
    await Promise.resolve();
    for (let batch = this.#queue.shift(); batch !== undefined; batch = this.#queue.shift()) {
      await this.#commitBatch([...batch.values()]);
    }
    this.#committing = undefined;
  }

  async #commitBatch(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      await this.#commitOne(batch[0]!);
      return;
    }
    let written: Set<string>;
    try {
      await this.#ensureSchema();
      const result = await this.#pool.query<{ stream: string }>({
        ...this.#sql.appendBatch,
        values: [batch.map((append) => append.stream), batch.map((append) => append.expectedSeq), batch.map((append) => append.payload)],
      });
      written = new Set(result.rows.map((row) => row.stream));
    } catch (error) {
      const failure = unavailable('PostgreSQL', error);
      for (const append of batch) append.reject(failure);
      return;
    }
    const refused = batch.filter((append) => !written.has(append.stream));
    for (const append of batch) if (written.has(append.stream)) append.resolve(append.expectedSeq);
    if (refused.length > 0) await this.#settleRefused(refused);
  }

  /**
   * A lone append: the one-row statement straight away (no array encoding,
   * no retry loop); only a refused append goes on to the conflict check.
   */
  async #commitOne(append: PendingAppend): Promise<void> {
    let inserted: boolean;
    try {
      inserted = await this.#insertUnlessTaken(append.stream, append.expectedSeq, [append.payload]);
    } catch (error) {
      append.reject(error);
      return;
    }
    if (inserted) append.resolve(append.expectedSeq);
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
      const failure = unavailable('PostgreSQL', error);
      for (const append of refused) append.reject(failure);
      return;
    }
    await Promise.all(
      refused.map((append) => {
        const actual = lengths.get(append.stream) ?? 0;
        if (actual !== append.expectedSeq) {
          append.reject(new SequenceConflictError(append.stream, append.expectedSeq, actual));
          return undefined;
        }
        return this.#appendAll(append.stream, append.expectedSeq, [append.payload]).then(append.resolve, append.reject);
      }),
    );
  }

  /** True when the batch was written; false when the stream's length was not `expectedSeq`. */
  async #insertUnlessTaken(stream: string, expectedSeq: number, buffers: Buffer[]): Promise<boolean> {
    await this.#ensureSchema();
    return buffers.length === 1
      ? this.#insert(this.#sql.appendOne, [stream, expectedSeq, buffers[0]], 1)
      : this.#insert(this.#sql.appendMany, [stream, expectedSeq, buffers], buffers.length);
  }

  /** Runs an append statement: true when all `rows` were written, false when the stream's length was not the expected one. */
  async #insert(statement: pg.QueryConfig, values: unknown[], rows: number): Promise<boolean> {
    try {
      const result = await this.#pool.query({ ...statement, values });
      return result.rowCount === rows;
    } catch (error) {
      if (pgCode(error) === uniqueViolation) return false;
      throw unavailable('PostgreSQL', error);
    }
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
      const result = await this.#query(sql, [key, expected, next]);
      if (result.rowCount === 1) return;
      const actual = (await this.doReadValue(key)) ?? 0;
      if (actual !== expected || attempt === maxAttempts) throw new CasConflictError(key, expected, actual);
    }
  }

  protected async doClose(): Promise<void> {
    // Appends accepted before close() still get their commit and their answer.
    await this.#committing;
    await this.#pool.end();
  }

  async #query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: string | pg.QueryConfig,
    values: unknown[],
  ): Promise<pg.QueryResult<Row>> {
    await this.#ensureSchema();
    try {
      return await this.#pool.query<Row>(typeof statement === 'string' ? { text: statement, values } : { ...statement, values });
    } catch (error) {
      throw unavailable('PostgreSQL', error);
    }
  }

  async #transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.#ensureSchema();
    try {
      await this.#inTransaction(work);
    } catch (error) {
      throw unavailable('PostgreSQL', error);
    }
  }

  async #inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
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
      throw unavailable('PostgreSQL', error);
    });
    return this.#ready;
  }

  #createSchema(): Promise<void> {
    return this.#inTransaction(async (client) => {
      // Concurrent `CREATE ... IF NOT EXISTS` can still collide in the
      // catalogs; one lock per schema name makes processes take turns.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`liminal-store:${this.#schema}`]);
      for (const ddl of this.#sql.schema) await client.query(ddl);
    });
  }
}

function statements(schema: string) {
  const entries = `${schema}.entries`;
  const counters = `${schema}.counters`;
  return {
    schema: [
      `CREATE SCHEMA IF NOT EXISTS ${schema}`,
      // COLLATE "C" orders by code point, the order every adapter lists streams in.
      `CREATE TABLE IF NOT EXISTS ${entries} (
         stream text COLLATE "C" NOT NULL,
         seq bigint NOT NULL,
         payload bytea NOT NULL,
         PRIMARY KEY (stream, seq))`,
      `CREATE TABLE IF NOT EXISTS ${counters} (
         key text COLLATE "C" PRIMARY KEY,
         value bigint NOT NULL)`,
    ],
    appendOne: prepared(
      'append_one',
      `INSERT INTO ${entries} (stream, seq, payload)
       SELECT $1::text, $2::bigint, $3::bytea
       WHERE $2::bigint = 0
          OR EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1::text AND seq = $2::bigint - 1 FOR KEY SHARE)`,
    ),
    appendMany: prepared('append_many', `
      INSERT INTO ${entries} (stream, seq, payload)
      SELECT $1, $2::bigint + ordinal - 1, payload
      FROM unnest($3::bytea[]) WITH ORDINALITY AS batch (payload, ordinal)
      WHERE $2::bigint = 0
         OR EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1 AND seq = $2::bigint - 1 FOR KEY SHARE)`),
    // One row per append, each to its own stream; conflicting rows are skipped, not fatal.
    appendBatch: prepared('append_batch', `
      INSERT INTO ${entries} (stream, seq, payload)
      SELECT batch.stream, batch.seq, batch.payload
      FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS batch (stream, seq, payload)
      WHERE batch.seq = 0
         OR EXISTS (SELECT 1 FROM ${entries} e WHERE e.stream = batch.stream AND e.seq = batch.seq - 1 FOR KEY SHARE)
      ON CONFLICT (stream, seq) DO NOTHING
      RETURNING stream`),
    lengths: prepared('lengths', `SELECT stream, MAX(seq) + 1 AS length FROM ${entries} WHERE stream = ANY($1::text[]) GROUP BY stream`),
    readFrom: prepared('read_from', `SELECT seq, payload FROM ${entries} WHERE stream = $1 AND seq >= $2 ORDER BY seq LIMIT $3`),
    length: prepared('length', `SELECT COALESCE(MAX(seq) + 1, 0) AS length FROM ${entries} WHERE stream = $1`),
    // A loose index scan: one index seek from each name to the next, so a
    // long stream costs no more than a short one. The recursion is evaluated
    // only as far as the outer LIMIT reads.
    listStreams: `
      WITH RECURSIVE names (stream) AS (
        SELECT (SELECT stream FROM ${entries}
                WHERE stream >= $1 AND ($3::text IS NULL OR stream > $3)
                ORDER BY stream LIMIT 1)
        UNION ALL
        SELECT (SELECT next.stream FROM ${entries} AS next
                WHERE next.stream > names.stream
                ORDER BY next.stream LIMIT 1)
        FROM names
        WHERE names.stream IS NOT NULL AND ($2::text IS NULL OR names.stream < $2)
      )
      SELECT stream FROM names
      WHERE stream IS NOT NULL AND ($2::text IS NULL OR stream < $2)
      LIMIT $4`,
    deleteStream: `DELETE FROM ${entries} WHERE stream = $1`,
    listValues: `
      SELECT key, value FROM ${counters}
      WHERE key >= $1 AND ($2::text IS NULL OR key < $2) AND ($3::text IS NULL OR key > $3)
      ORDER BY key LIMIT $4`,
    readValue: `SELECT value FROM ${counters} WHERE key = $1`,
    casFromZero: `
      INSERT INTO ${counters} AS c (key, value) VALUES ($1, $3)
      ON CONFLICT (key) DO UPDATE SET value = $3 WHERE c.value = $2`,
    casUpdate: `UPDATE ${counters} SET value = $3 WHERE key = $1 AND value = $2`,
  };
}

/**
 * A named statement: pg prepares it once per connection, so PostgreSQL parses
 * and plans it once instead of on every call (unnamed, the append statement
 * cost ≈ 30% of a loopback append). The name carries a hash of the text,
 * which includes the schema, so one name never stands for two texts.
 */
function prepared(name: string, text: string): pg.QueryConfig {
  return { name: `liminal_${name}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`, text };
}

function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
