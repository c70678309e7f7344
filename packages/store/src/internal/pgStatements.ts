import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * The advisory lock standing for "counter $key is absent": a row lock cannot
 * be taken on a row that does not exist. Two keys may share a lock (64-bit
 * hash); that only makes one wait for the other.
 */
function absentKeyLock(key: string): string {
  return `hashtextextended('liminal-counter:' || ${key}, 0)`;
}

/**
 * The advisory lock standing for "stream $stream is empty": a condition on an
 * empty stream has no entry to lock, so it holds this one shared until COMMIT,
 * and every write of a stream's first entry (sequence 0) takes it exclusively
 * first. Without it, a commit that found a stream empty could commit after
 * another had written that stream's first entry and read something the first
 * commit writes: write skew (two processes both committed 11 of 500 such pairs).
 */
function emptyStreamLock(stream: string): string {
  return `hashtextextended('liminal-stream:' || ${stream}, 0)`;
}

/** True once this transaction holds the empty-stream lock of `stream` exclusively (see `emptyStreamLock`). */
function firstEntryFenced(stream: string): string {
  return `(SELECT true FROM (SELECT pg_advisory_xact_lock(${emptyStreamLock(stream)})) AS fenced)`;
}

/** Every statement the PostgreSQL adapter sends, for one schema. */
export function statements(schema: string) {
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
       WHERE CASE WHEN $2::bigint = 0 THEN ${firstEntryFenced('$1::text')}
             ELSE EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1::text AND seq = $2::bigint - 1 FOR KEY SHARE) END`,
    ),
    // One row per append, each to its own stream; conflicting rows are skipped, not fatal.
    appendBatch: prepared('append_batch', `
      INSERT INTO ${entries} (stream, seq, payload)
      SELECT batch.stream, batch.seq, batch.payload
      FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS batch (stream, seq, payload, ordinal)
      WHERE CASE WHEN batch.seq = 0 THEN ${firstEntryFenced('batch.stream')}
            ELSE EXISTS (SELECT 1 FROM ${entries} e WHERE e.stream = batch.stream AND e.seq = batch.seq - 1 FOR KEY SHARE) END
      -- In the order given: the caller sorts by stream, the lock order every batch shares.
      ORDER BY batch.ordinal
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
    // Creating a counter waits for commits that checked it while absent (see lockAbsentKey).
    casFromZero: prepared('cas_from_zero', `
      INSERT INTO ${counters} AS c (key, value)
      SELECT $1, $3::bigint FROM (SELECT pg_advisory_xact_lock(${absentKeyLock('$1')})) AS fence
      ON CONFLICT (key) DO UPDATE SET value = $3 WHERE c.value = $2`),
    casUpdate: prepared('cas_update', `UPDATE ${counters} SET value = $3 WHERE key = $1 AND value = $2`),
    // Inside a commit, a conflict must be an answer, not an aborted
    // transaction: the first entry is inserted unless taken (ON CONFLICT
    // skips it, waiting out a concurrent inserter), and only once it is in
    // are the rest written; no other writer can take them, since each needs
    // its predecessor. \`head\` is 1 when the append was written, 0 on conflict.
    commitAppend: prepared('commit_append', `
      WITH head AS (
        INSERT INTO ${entries} (stream, seq, payload)
        SELECT $1, $2::bigint, ($3::bytea[])[1]
        WHERE CASE WHEN $2::bigint = 0 THEN ${firstEntryFenced('$1::text')}
              ELSE EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1 AND seq = $2::bigint - 1 FOR KEY SHARE) END
        ON CONFLICT (stream, seq) DO NOTHING
        RETURNING seq
      ), rest AS (
        INSERT INTO ${entries} (stream, seq, payload)
        SELECT $1, $2::bigint + ordinal - 1, payload
        FROM unnest($3::bytea[]) WITH ORDINALITY AS batch (payload, ordinal)
        WHERE ordinal > 1 AND EXISTS (SELECT 1 FROM head)
      )
      SELECT count(*)::int AS head FROM head`),
    // The same for one payload (the common case), without the second insert and the count.
    commitAppendOne: prepared('commit_append_one', `
      INSERT INTO ${entries} (stream, seq, payload)
      SELECT $1, $2::bigint, $3::bytea
      WHERE CASE WHEN $2::bigint = 0 THEN ${firstEntryFenced('$1::text')}
            ELSE EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1 AND seq = $2::bigint - 1 FOR KEY SHARE) END
      ON CONFLICT (stream, seq) DO NOTHING`),
    // Holds a stream's length until the commit ends: an append after the last
    // entry needs FOR KEY SHARE on it, which FOR UPDATE blocks.
    lockLast: prepared('lock_last', `SELECT 1 FROM ${entries} WHERE stream = $1 AND seq = $2::bigint - 1 FOR UPDATE`),
    // Holds "this stream is empty" until the commit ends: a first entry's writer waits (see emptyStreamLock).
    lockEmptyStream: prepared('lock_empty_stream', `SELECT pg_advisory_xact_lock_shared(${emptyStreamLock('$1::text')})`),
    // Holds a counter's value until the commit ends (casUpdate waits); for an
    // absent counter, the shared advisory lock below makes casFromZero wait.
    readValueForShare: prepared('read_value_for_share', `SELECT value FROM ${counters} WHERE key = $1 FOR SHARE`),
    notify: prepared('notify', 'SELECT pg_notify($1, name) FROM unnest($2::text[]) AS name'),
    lockAbsentKey: prepared('lock_absent_key', `SELECT pg_advisory_xact_lock_shared(${absentKeyLock('$1')})`),
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

export function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
