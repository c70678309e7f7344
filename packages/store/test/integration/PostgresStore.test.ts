import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, PostgresStore, SequenceConflictError, StoreUnavailableError } from '@liminal/store';
import { postgresForTests, uniqueSchemaName } from '@liminal/store/testing';

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
    const results = await Promise.all(stores.map((store, index) => store.cas(`writer-${index}`, 0, 1)));
    expect(results).toHaveLength(6);
    expect(await stores[0]!.readValue('writer-5')).toBe(1);
    await Promise.all(stores.map((store) => store.close()));
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

  it('is what openStore returns for postgres:// URLs, with ?schema= choosing the schema', async () => {
    const schema = freshSchema();
    const store = await openStore(`${url}?schema=${schema}`);
    expect(store).toBeInstanceOf(PostgresStore);
    await store.append('s', new Uint8Array([1]), 0);
    await store.close();
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${admin.escapeIdentifier(schema)}.entries`);
    expect(rows[0].n).toBe(1);
  });

  it('reports an unreachable server as StoreUnavailableError', async () => {
    const store = new PostgresStore('postgres://postgres@127.0.0.1:1/test');
    await expect(store.streamLength('s')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.append('s', new Uint8Array([1]), 0)).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });
});
