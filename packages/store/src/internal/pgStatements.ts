import { createHash } from 'node:crypto';
import type pg from 'pg';
import { absentKeyLock, firstEntryFenced } from './pgLocks.js';
import { notifySql } from './pgChangeNotice.js';

/**
 * Every statement the PostgreSQL adapter sends, for one schema. An append
 * statement sends one notice on `channel` naming the streams it grew, in
 * its own transaction (see `notifySql`).
 */
export function statements(schema: string, channel: string) {
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
    // One row when the entry was written.
    appendOne: prepared(
      'append_one',
      `WITH written AS (
         INSERT INTO ${entries} (stream, seq, payload)
         SELECT $1::text, $2::bigint, $3::bytea
         WHERE CASE WHEN $2::bigint = 0 THEN ${firstEntryFenced('$1::text')}
               ELSE EXISTS (SELECT 1 FROM ${entries} WHERE stream = $1::text AND seq = $2::bigint - 1 FOR KEY SHARE) END
         RETURNING stream)
       SELECT ${notifySql(channel, 'to_json(stream)::text')} FROM written`,
    ),
    // Conflicting rows are skipped, not fatal. One row listing the streams written (none when
    // nothing was), whose one notice names them all.
    appendBatch: prepared('append_batch', `
      WITH written AS (
        INSERT INTO ${entries} (stream, seq, payload)
        SELECT batch.stream, batch.seq, batch.payload
        FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS batch (stream, seq, payload, ordinal)
        WHERE CASE WHEN batch.seq = 0 THEN ${firstEntryFenced('batch.stream')}
              ELSE EXISTS (SELECT 1 FROM ${entries} e WHERE e.stream = batch.stream AND e.seq = batch.seq - 1 FOR KEY SHARE) END
        -- In the order given: the caller sorts by stream, the lock order every batch shares.
        ORDER BY batch.ordinal
        ON CONFLICT (stream, seq) DO NOTHING
        RETURNING stream)
      SELECT array_agg(stream) AS streams, ${notifySql(channel, "string_agg(to_json(stream)::text, ',')")}
      FROM written HAVING count(*) > 0`),
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
    // Creating a counter waits for commits that checked it while absent (see absentKeyLock).
    casFromZero: prepared('cas_from_zero', `
      INSERT INTO ${counters} AS c (key, value)
      SELECT $1, $3::bigint FROM (SELECT pg_advisory_xact_lock(${absentKeyLock('$1')})) AS fence
      ON CONFLICT (key) DO UPDATE SET value = $3 WHERE c.value = $2`),
    casUpdate: prepared('cas_update', `UPDATE ${counters} SET value = $3 WHERE key = $1 AND value = $2`),
  };
}

/**
 * A named statement: pg prepares it once per connection, so PostgreSQL parses
 * and plans it once instead of on every call (unnamed, the append statement
 * cost ≈ 30% of a loopback append). The name carries a hash of the text,
 * which includes the schema, so one name never stands for two texts.
 */
export function prepared(name: string, text: string): pg.QueryConfig {
  return { name: `liminal_${name}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`, text };
}

export function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
