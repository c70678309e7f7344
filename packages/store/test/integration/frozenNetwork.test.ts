import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, StoreTimeoutError } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { startPgProxy } from '../support/pgProxy.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

// A network path that stops answering (a partition, a dead NAT entry) gives
// the server nothing to time out: only the client-side timer bounds the call.
describe.skipIf(url === undefined)('PostgreSQL behind a network path that stops answering', () => {
  it('rejects a read with StoreTimeoutError soon after statementTimeoutMs, and serves the next call on a fresh connection', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    const statementTimeoutMs = 1_000;
    const store = new PostgresStore(proxy.url(url!), { schema, poolSize: 1, statementTimeoutMs });
    try {
      await store.append('order', new Uint8Array([7]), 0);
      const frozen = proxy.withhold('liminal_read_from');
      const error = await store.readFrom('order', 0, 10).catch((caught: unknown) => caught);
      await frozen;
      expect(error).toBeInstanceOf(StoreTimeoutError);
      expect(error).toMatchObject({ code: 'TIMEOUT', timeoutMs: statementTimeoutMs, ambiguous: false });
      // The frozen connection is dropped, not returned to the pool.
      const entries = await store.readFrom('order', 0, 10);
      expect(entries.map((entry) => [...entry.payload])).toEqual([[7]]);
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 60_000);

  it('rejects a write whose answer never comes with ambiguous: true, and nothing beyond it is lost', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    const statementTimeoutMs = 1_000;
    const store = new PostgresStore(proxy.url(url!), { schema, poolSize: 1, statementTimeoutMs });
    const direct = new PostgresStore(url!, { schema, poolSize: 1 });
    try {
      await store.append('order', new Uint8Array([1]), 0);
      const frozen = proxy.withhold('liminal_append_one');
      const error = await store.append('order', new Uint8Array([2]), 1).catch((caught: unknown) => caught);
      await frozen;
      expect(error).toBeInstanceOf(StoreTimeoutError);
      // The client cannot know whether the server got the statement.
      expect(error).toMatchObject({ code: 'TIMEOUT', ambiguous: true });
      expect(await direct.streamLength('order')).toBe(1);
      expect(await store.append('order', new Uint8Array([3]), 1)).toBe(1);
    } finally {
      await Promise.all([store.close(), direct.close()]);
      await proxy.close();
    }
  }, 60_000);
});
