import pg from 'pg';

/**
 * The engine's limit on PostgreSQL: a `pg` pool of the same size as the
 * store's, the same table layout as PostgresStore, one plain parameterised
 * INSERT per entry in autocommit, no sequence check.
 */
export class RawPg {
  readonly pool: pg.Pool;
  readonly #table: string;
  #ready: Promise<void> | undefined;

  constructor(url: string, readonly schema: string, poolSize: number) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize });
    this.#table = `${pg.escapeIdentifier(schema)}.entries`;
  }

  ready(): Promise<void> {
    this.#ready ??= (async () => {
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.schema)}`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
        stream text COLLATE "C" NOT NULL, seq bigint NOT NULL, payload bytea NOT NULL,
        PRIMARY KEY (stream, seq))`);
    })();
    return this.#ready;
  }

  /** One autocommit INSERT: one transaction, one WAL flush. */
  async insert(stream: string, seq: number, payload: Buffer): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.#table} (stream, seq, payload) VALUES ($1, $2, $3)`, [stream, seq, payload]);
  }

  /** Several entries in one multi-row INSERT (one statement, one transaction). */
  async insertMany(stream: string, first: number, payloads: readonly Buffer[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.#table} (stream, seq, payload)
       SELECT $1, $2::bigint + ordinal - 1, payload FROM unnest($3::bytea[]) WITH ORDINALITY AS b (payload, ordinal)`,
      [stream, first, payloads],
    );
  }

  /** Idempotent, like `DurableStore.close`: a suite may free the pool early and still leave it to the cleanups. */
  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
