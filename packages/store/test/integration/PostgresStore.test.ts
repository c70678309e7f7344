import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitConflictError, ConfigError, openStore, PostgresStore, SequenceConflictError, StoreTimeoutError, StoreUnavailableError } from '@liminal/store';
import { postgresForTests, uniqueSchemaName } from '@liminal/testkit';

const url = await postgresForTests();

describe.skipIf(url === undefined)('PostgresStore', () => {
  const schemas: string[] = [];
  const freshSchema = () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    return schema;
  };
  let admin: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${admin.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });

  it('creates its schema on first use even when many pools create it at once', async () => {
    const schema = freshSchema();
    const stores = Array.from({ length: 6 }, () => new PostgresStore(url!, { schema, poolSize: 1 }));
    // A commit is a call of the store's commit function, which the schema creation makes too.
    const results = await Promise.all(stores.map((store, index) => store.commit([{ op: 'cas', key: `writer-${index}`, expected: 0, next: 1 }])));
    expect(results).toHaveLength(6);
    expect(await stores[0]!.readValue('writer-5')).toBe(1);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('opens a schema made by an older version (its tables, none of the functions), keeps its data and commits into it', async () => {
    const schema = freshSchema();
    const q = admin.escapeIdentifier(schema);
    // The DDL of the versions before the commit functions, with data written by them.
    await admin.query(`CREATE SCHEMA ${q}`);
    await admin.query(`CREATE TABLE ${q}.entries (stream text COLLATE "C" NOT NULL, seq bigint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (stream, seq))`);
    await admin.query(`CREATE TABLE ${q}.counters (key text COLLATE "C" PRIMARY KEY, value bigint NOT NULL)`);
    await admin.query(`INSERT INTO ${q}.entries VALUES ('old', 0, '\\x01')`);
    await admin.query(`INSERT INTO ${q}.counters VALUES ('cursor', 4)`);
    const stores = [new PostgresStore(url!, { schema, poolSize: 1 }), new PostgresStore(url!, { schema, poolSize: 1 })];
    const result = await stores[0]!.commit([
      { op: 'append', stream: 'old', payloads: [new Uint8Array([2])], expectedSeq: 1 },
      { op: 'cas', key: 'cursor', expected: 4, next: 5 },
    ]);
    expect(result.firstSeqs).toEqual([1, undefined]);
    expect(await stores[1]!.readFrom('old', 0, 10)).toEqual([
      { sequence: 0, payload: new Uint8Array([1]) },
      { sequence: 1, payload: new Uint8Array([2]) },
    ]);
    expect(await stores[1]!.readValue('cursor')).toBe(5);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('fails only the commit of a group whose value the server refuses; the others commit', async () => {
    const schema = freshSchema();
    const store = new PostgresStore(url!, { schema });
    await store.streamLength('s'); // schema created
    // A constraint of the operator's: PostgreSQL refuses this one payload.
    await admin.query(`ALTER TABLE ${admin.escapeIdentifier(schema)}.entries ADD CONSTRAINT no_poison CHECK (payload <> '\\xdead')`);
    const commits = ['a', 'b', 'c', 'd'].map((name) =>
      store.commit([
        { op: 'append', stream: name, payloads: [new Uint8Array(name === 'c' ? [0xde, 0xad] : [1])], expectedSeq: 0 },
        { op: 'cas', key: `n-${name}`, expected: 0, next: 1 },
      ]),
    );
    const outcomes = await Promise.allSettled(commits);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining('no_poison') });
    expect(await store.listStreams('')).toEqual(['a', 'b', 'd']);
    expect(await store.listValues('n-')).toEqual(['a', 'b', 'd'].map((name) => ({ key: `n-${name}`, value: 1 })));
    await store.close();
  });

  it('lets exactly one of two racing writers take a sequence; the other gets the real length', async () => {
    const schema = freshSchema();
    const [a, b] = [new PostgresStore(url!, { schema }), new PostgresStore(url!, { schema })];
    await a.append('race', new Uint8Array([0]), 0);
    const outcomes = await Promise.allSettled([
      a.appendMany('race', [new Uint8Array([1]), new Uint8Array([1])], 1),
      b.append('race', new Uint8Array([2]), 1),
    ]);
    const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(failures).toHaveLength(1);
    const error = (failures[0] as PromiseRejectedResult).reason as SequenceConflictError;
    expect(error).toBeInstanceOf(SequenceConflictError);
    expect(error.actual).toBe(outcomes[0].status === 'fulfilled' ? 3 : 2);
    expect((await a.readFrom('race', 0, 10)).map((entry) => entry.sequence)).toEqual(
      outcomes[0].status === 'fulfilled' ? [0, 1, 2] : [0, 1],
    );
    await Promise.all([a.close(), b.close()]);
  });

  it('has the database itself refuse a second entry with the same (stream, seq)', async () => {
    const schema = freshSchema();
    const store = new PostgresStore(url!, { schema });
    await store.append('s', new Uint8Array([1]), 0);
    await store.close();
    const duplicate = admin.query(`INSERT INTO ${admin.escapeIdentifier(schema)}.entries (stream, seq, payload) VALUES ('s', 0, '\\x02')`);
    await expect(duplicate).rejects.toMatchObject({ code: '23505' });
  });

  it('is what openStore returns for postgres:// URLs, with ?schema= choosing the schema', async () => {
    const schema = freshSchema();
    const store = await openStore(`${url}?schema=${schema}`);
    expect(store).toBeInstanceOf(PostgresStore);
    await store.append('s', new Uint8Array([1]), 0);
    await store.close();
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${admin.escapeIdentifier(schema)}.entries`);
    expect(rows[0]?.n).toBe(1);
  });

  it('reports permanent configuration problems as ConfigError, not as a retryable outage', async () => {
    const parsed = new URL(url!);
    const unknownRole = new PostgresStore(`postgres://no_such_role_liminal@${parsed.host}${parsed.pathname}`, { schema: freshSchema() });
    const unknownDatabase = new PostgresStore(`postgres://postgres@${parsed.host}/no_such_database_liminal`, { schema: freshSchema() });
    for (const store of [unknownRole, unknownDatabase]) {
      await expect(store.streamLength('s')).rejects.toBeInstanceOf(ConfigError);
      await expect(store.append('s', new Uint8Array([1]), 0)).rejects.toBeInstanceOf(ConfigError);
      await store.close();
    }
    for (const schema of ['pg_catalog', 'PG_toast', 'information_schema']) {
      expect(() => new PostgresStore(url!, { schema })).toThrow(ConfigError);
      await expect(openStore(`${url}?schema=${schema}`)).rejects.toBeInstanceOf(ConfigError);
    }
  });

  it('says a string poolSize or statementTimeoutMs is a string', () => {
    expect(() => new PostgresStore(url!, { poolSize: '4' as never })).toThrow('got "4" (a string)');
    expect(() => new PostgresStore(url!, { statementTimeoutMs: 0 })).toThrow(ConfigError);
    expect(() => new PostgresStore(url!, { idleInTransactionTimeoutMs: 0 })).toThrow(ConfigError);
    expect(() => new PostgresStore(url!, { idleInTransactionTimeoutMs: '5000' as never })).toThrow('got "5000" (a string)');
  });

  it('reports an unreachable server as StoreUnavailableError, not ambiguous: nothing was sent', async () => {
    const store = new PostgresStore('postgres://postgres@127.0.0.1:1/test');
    await expect(store.streamLength('s')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.append('s', new Uint8Array([1]), 0)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: false });
    await expect(store.commit([{ op: 'cas', key: 'k', expected: 0, next: 1 }])).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: false });
    await expect(store.cas('k', 0, 1)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: false });
    await store.close();
  });

  it('acknowledges appends started together only once another connection can read them all', async () => {
    const schema = freshSchema();
    const writer = new PostgresStore(url!, { schema, poolSize: 2 });
    const reader = new PostgresStore(url!, { schema, poolSize: 1 });
    const names = Array.from({ length: 40 }, (_, index) => `caller-${index}`);
    await Promise.all(
      names.map((name, index) =>
        writer.append(name, new Uint8Array([index]), 0).then(async (sequence) => {
          expect(sequence).toBe(0);
          expect(await reader.readFrom(name, 0, 10)).toEqual([{ sequence: 0, payload: new Uint8Array([index]) }]);
        }),
      ),
    );
    await Promise.all([writer.close(), reader.close()]);
  });

  it('bounds a call stuck behind another session\'s lock with statementTimeoutMs: every append of the batch rejects with StoreTimeoutError, none written', async () => {
    const schema = freshSchema();
    // Statements give up after 300 ms, so a table locked by someone else makes the batch fail.
    const store = new PostgresStore(url!, { schema, statementTimeoutMs: 300 });
    await store.append('a', new Uint8Array([0]), 0);
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${admin.escapeIdentifier(schema)}.entries IN EXCLUSIVE MODE`);
    try {
      const outcomes = await Promise.allSettled(
        ['a', 'b', 'c'].map((name) => store.append(name, new Uint8Array([1]), name === 'a' ? 1 : 0)),
      );
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(StoreTimeoutError);
        expect(reason).toBeInstanceOf(StoreUnavailableError);
        expect(reason).toMatchObject({ code: 'TIMEOUT', timeoutMs: 300, ambiguous: false });
      }
    } finally {
      await admin.query('ROLLBACK');
    }
    expect(await store.listStreams('')).toEqual(['a']);
    expect(await store.streamLength('a')).toBe(1);
    await store.close();
  });

  it('commits appends accepted before close()', async () => {
    const schema = freshSchema();
    const store = new PostgresStore(url!, { schema });
    const appended = Promise.all([store.append('s', new Uint8Array([1]), 0), store.append('t', new Uint8Array([1]), 0)]);
    await store.close();
    expect(await appended).toEqual([0, 0]);
    const reopened = new PostgresStore(url!, { schema });
    expect(await reopened.listStreams('')).toEqual(['s', 't']);
    await reopened.close();
  });

  it.each([
    ['deleteStream', (store: PostgresStore) => store.deleteStream('churn')],
    [
      'a commit of deleteStream with the length read before',
      async (store: PostgresStore) => {
        const expectedLength = await store.streamLength('churn');
        await store.commit([{ op: 'deleteStream', stream: 'churn', expectedLength }]).catch((error: unknown) => {
          if (!(error instanceof CommitConflictError && error.cause instanceof SequenceConflictError)) throw error;
        });
      },
    ],
  ])('never leaves a gap when %s races with appenders', async (_, deleteChurn) => {
    const schema = freshSchema();
    const [writers, deleter] = [new PostgresStore(url!, { schema, poolSize: 4 }), new PostgresStore(url!, { schema, poolSize: 1 })];
    const sequences = async () => (await deleter.readFrom('churn', 0, 10_000)).map((entry) => entry.sequence);
    const gapFree = (found: number[]) => found.every((sequence, index) => sequence === index);
    let running = true;
    const appender = async () => {
      let appended = 0;
      while (running) {
        try {
          await writers.append('churn', new Uint8Array([1]), await writers.streamLength('churn'));
          appended++;
        } catch (error) {
          if (!(error instanceof SequenceConflictError)) throw error;
        }
      }
      return appended;
    };
    const appenders = [appender(), appender(), appender(), appender()];
    const snapshots: number[][] = [];
    for (let round = 0; round < 100; round++) {
      await deleteChurn(deleter);
      snapshots.push(await sequences());
    }
    running = false;
    const appended = await Promise.all(appenders);
    snapshots.push(await sequences());
    expect(appended.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
    expect(snapshots.filter((found) => !gapFree(found))).toEqual([]);
    await Promise.all([writers.close(), deleter.close()]);
  });
});
