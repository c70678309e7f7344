import { createHash } from 'node:crypto';
import type pg from 'pg';
import { absentKeyLock, emptyStreamLock, firstEntryFenced } from './pgLocks.js';
import { notifySql } from './pgChangeNotice.js';
import { prepared } from './pgStatements.js';

/**
 * The SQLSTATE a commit's conflict is raised with inside the server: raising
 * rolls back what the commit wrote so far, and the client turns it into a
 * `CommitConflictError` (its DETAIL is `<op index> <actual value>`).
 */
export const commitConflictState = 'LM001';

/** Op kinds as the functions receive them. */
export const opKind = { append: 0, deleteStream: 1, cas: 2, check: 3 } as const;

export interface CommitFunctions {
  /** Every function, in creation order (the batch function calls the apply function). */
  readonly functions: readonly { readonly name: string; readonly ddl: string }[];
  /** Applies one or more commits in one round trip; see `commitFunctions`. */
  readonly call: pg.QueryConfig;
}

/**
 * Server-side functions that apply whole commits, so a commit costs one round
 * trip (one autocommit statement) instead of BEGIN, one statement per op and
 * COMMIT. They run the very statements the ops used to be sent as, one after
 * another in a VOLATILE function, so in READ COMMITTED each sees a fresh
 * snapshot: a length read after its lock still sees an append that committed
 * while the lock was awaited.
 *
 * `apply(first, last)` runs ops `first..last` of the arrays (one commit, in
 * lock order) and raises `commitConflictState` for the failing op with the
 * lowest caller index: once a target failed its later ops are skipped (they
 * would see a state that never exists), ops on other targets still run.
 *
 * `commit(sizes)` runs the commits of a group commit, `sizes[c]` ops each. A
 * lone commit runs bare (its conflict aborts the statement, so nothing of it
 * stays); several run each in a block of its own (a subtransaction), so a
 * commit's conflict or a value the server refuses (data exception, integrity,
 * program limit) rolls back that commit alone and is returned as a row
 * `(commit_no, state, detail)`, while the others commit together.
 *
 * The call sends ONE notice on `channel` (see `notifySql`) for all the
 * commits that applied: `notes[c]` is commit c's notice elements (its
 * non-empty appends, which are exactly the streams it grew when it applied),
 * built by the client (`noticeElements`). A commit that raises, or a block
 * that rolls back, adds nothing to it; the notice leaves at COMMIT.
 *
 * Function names carry a hash of their text (which includes the schema), like
 * prepared statements: a process of another library version finds its own
 * functions, never a different body under the same name.
 */
export function commitFunctions(schema: string, channel: string): CommitFunctions {
  const entries = `${schema}.entries`;
  const counters = `${schema}.counters`;
  const args = `k smallint[], nm text[], a bigint[], b bigint[], ix int[], pf int[], blob bytea, offs int[], lens int[]`;
  const payload = (index: string) => `substring(blob FROM offs[${index}] + 1 FOR lens[${index}])`;
  const applyBody = `
DECLARE
  i int;
  v_name text;
  v_expected bigint;
  v_count int;
  found_rows bigint;
  v_actual bigint;
  v_failed boolean;
  failed_index int;
  failed_actual bigint;
  skip_kind smallint;
  skip_name text;
BEGIN
  FOR i IN first_op..last_op LOOP
    v_name := nm[i];
    v_expected := a[i];
    -- Ops are sorted by target (stream or counter), so a failed target's later ops follow it.
    IF skip_name IS NOT NULL AND skip_name = v_name AND skip_kind = (k[i] >> 1) THEN CONTINUE; END IF;
    v_failed := false;
    IF k[i] = 0 AND b[i] > 0 THEN
      INSERT INTO ${entries} (stream, seq, payload)
        SELECT v_name, v_expected, ${payload('pf[i]')}
        WHERE CASE WHEN v_expected = 0 THEN ${firstEntryFenced('v_name')}
              ELSE EXISTS (SELECT 1 FROM ${entries} WHERE stream = v_name AND seq = v_expected - 1 FOR KEY SHARE) END
        ON CONFLICT (stream, seq) DO NOTHING;
      GET DIAGNOSTICS found_rows = ROW_COUNT;
      IF found_rows = 1 THEN
        v_count := b[i];
        -- No other writer can take these: each needs its predecessor, which only this transaction sees.
        IF v_count > 1 THEN
          INSERT INTO ${entries} (stream, seq, payload)
            SELECT v_name, v_expected + j, ${payload('pf[i] + j')} FROM generate_series(1, v_count - 1) AS j;
        END IF;
      ELSE
        SELECT COALESCE(MAX(seq) + 1, 0) INTO v_actual FROM ${entries} WHERE stream = v_name;
        v_failed := true;
      END IF;
    ELSIF k[i] = 1 AND v_expected > 0 THEN
      -- deleteStream: deleting the last entry first locks it (an append after it needs
      -- FOR KEY SHARE on it, so it waits, or has committed by the time the delete gets the row);
      -- a later statement then sees any entry appended after it, and deletes the rest.
      DELETE FROM ${entries} WHERE stream = v_name AND seq = v_expected - 1;
      GET DIAGNOSTICS found_rows = ROW_COUNT;
      IF found_rows = 1 THEN
        WITH rest AS (DELETE FROM ${entries} WHERE stream = v_name AND seq < v_expected - 1)
        SELECT MAX(seq) + 1 INTO v_actual FROM ${entries} WHERE stream = v_name AND seq >= v_expected;
        v_failed := v_actual IS NOT NULL;
      ELSE
        SELECT COALESCE(MAX(seq) + 1, 0) INTO v_actual FROM ${entries} WHERE stream = v_name;
        v_failed := true;
      END IF;
    ELSIF k[i] <= 1 THEN
      -- A length check (an empty append, or deleteStream of an empty stream): lock the last
      -- entry (for an empty stream, its empty-stream lock), then read the length in a later statement.
      IF v_expected > 0 THEN
        PERFORM 1 FROM ${entries} WHERE stream = v_name AND seq = v_expected - 1 FOR UPDATE;
      ELSE
        PERFORM pg_advisory_xact_lock_shared(${emptyStreamLock('v_name')});
      END IF;
      SELECT COALESCE(MAX(seq) + 1, 0) INTO v_actual FROM ${entries} WHERE stream = v_name;
      v_failed := v_actual <> v_expected;
    ELSIF k[i] = 2 THEN
      IF v_expected = 0 THEN
        -- Creating a counter waits for commits that checked it while absent.
        INSERT INTO ${counters} AS c (key, value)
          SELECT v_name, b[i] FROM (SELECT pg_advisory_xact_lock(${absentKeyLock('v_name')})) AS fence
          ON CONFLICT (key) DO UPDATE SET value = b[i] WHERE c.value = 0;
      ELSE
        UPDATE ${counters} SET value = b[i] WHERE key = v_name AND value = v_expected;
      END IF;
      GET DIAGNOSTICS found_rows = ROW_COUNT;
      IF found_rows <> 1 THEN
        SELECT value INTO v_actual FROM ${counters} WHERE key = v_name FOR SHARE;
        v_actual := COALESCE(v_actual, 0);
        v_failed := true;
      END IF;
    ELSE
      -- Holds the counter's value until the end (a cas waits); an absent counter
      -- holds its "absent" lock, then is looked at again (it may have been created meanwhile).
      v_actual := NULL;
      SELECT value INTO v_actual FROM ${counters} WHERE key = v_name FOR SHARE;
      IF v_actual IS NULL THEN
        PERFORM pg_advisory_xact_lock_shared(${absentKeyLock('v_name')});
        SELECT value INTO v_actual FROM ${counters} WHERE key = v_name FOR SHARE;
      END IF;
      v_actual := COALESCE(v_actual, 0);
      v_failed := v_actual <> v_expected;
    END IF;
    IF v_failed THEN
      skip_name := v_name;
      skip_kind := k[i] >> 1;
      IF failed_index IS NULL OR ix[i] < failed_index THEN
        failed_index := ix[i];
        failed_actual := v_actual;
      END IF;
    END IF;
  END LOOP;
  IF failed_index IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '${commitConflictState}', MESSAGE = 'liminal commit conflict', DETAIL = failed_index || ' ' || failed_actual;
  END IF;
END`;
  const applyName = named('liminal_apply', applyBody);
  const applyCall = `${schema}.${applyName}(k, nm, a, b, ix, pf, blob, offs, lens`;
  const commitBody = `
DECLARE
  c int;
  first_op int := 1;
  state text;
  detail text;
  grown text[] := '{}';
BEGIN
  IF array_length(sizes, 1) = 1 THEN
    PERFORM ${applyCall}, 1, sizes[1]);
    IF notes[1] IS NOT NULL THEN PERFORM ${notifySql(channel, 'notes[1]')}; END IF;
    RETURN;
  END IF;
  FOR c IN 1..array_length(sizes, 1) LOOP
    BEGIN
      PERFORM ${applyCall}, first_op, first_op + sizes[c] - 1);
      IF notes[c] IS NOT NULL THEN grown := grown || notes[c]; END IF;
    EXCEPTION WHEN SQLSTATE '${commitConflictState}' OR data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
      commit_no := c;
      outcome_state := state;
      outcome_detail := detail;
      RETURN NEXT;
    END;
    first_op := first_op + sizes[c];
  END LOOP;
  IF cardinality(grown) > 0 THEN PERFORM ${notifySql(channel, "array_to_string(grown, ',')")}; END IF;
END`;
  const commitName = named('liminal_commit', commitBody);
  return {
    functions: [
      {
        name: applyName,
        ddl: `CREATE OR REPLACE FUNCTION ${schema}.${applyName}(${args}, first_op int, last_op int) RETURNS void
              LANGUAGE plpgsql VOLATILE AS $liminal$${applyBody}$liminal$`,
      },
      {
        name: commitName,
        ddl: `CREATE OR REPLACE FUNCTION ${schema}.${commitName}(${args}, sizes int[], notes text[])
              RETURNS TABLE (commit_no int, outcome_state text, outcome_detail text)
              LANGUAGE plpgsql VOLATILE AS $liminal$${commitBody}$liminal$`,
      },
    ],
    call: prepared(
      'commit',
      `SELECT commit_no, outcome_state, outcome_detail FROM ${schema}.${commitName}(
               $1::smallint[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], $7::bytea, $8::int[], $9::int[], $10::int[], $11::text[])`,
    ),
  };
}

/** `base` and a hash of `body`: the body (schema included) never changes under one name. */
function named(base: string, body: string): string {
  return `${base}_${createHash('sha256').update(body).digest('hex').slice(0, 12)}`;
}
