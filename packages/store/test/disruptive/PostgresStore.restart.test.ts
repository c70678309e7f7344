import { describe, expect, it } from 'vitest';
import { PostgresStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, restartTestPostgres, uniqueSchemaName } from '@liminal/testkit';

const url = await postgresForTests();

describe.skipIf(url === undefined)('PostgresStore across a PostgreSQL restart', () => {
  it('discards the dead pooled connections and serves the next call on a fresh one', async () => {
    const schema = uniqueSchemaName();
    const store = new PostgresStore(url!, { schema, poolSize: 3 });
    try {
      // Fill the pool with idle connections that the restart will kill.
      await Promise.all([0, 1, 2].map((index) => store.cas(`before-${index}`, 0, 1)));
      await store.append('s', new Uint8Array([1]), 0);

      await restartTestPostgres(url);

      expect(await store.append('s', new Uint8Array([2]), 1)).toBe(1);
      expect(await store.readFrom('s', 0, 10)).toEqual([
        { sequence: 0, payload: new Uint8Array([1]) },
        { sequence: 1, payload: new Uint8Array([2]) },
      ]);
    } finally {
      await store.close();
      await dropTestSchema(schema, url);
    }
  });
});
