import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, StoreUnavailableError } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { startPgProxy } from '../support/pgProxy.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

describe.skipIf(url === undefined)('PostgreSQL outcome certainty', () => {
  it('rejects a commit with ambiguous: true when the connection is lost after its statement was sent (and the write may well be there)', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    const store = new PostgresStore(proxy.url(url!), { schema, poolSize: 1 });
    const direct = new PostgresStore(url!, { schema, poolSize: 1 });
    try {
      await store.streamLength('warm-up'); // schema created, connection open
      // A commit is one statement, a call of the store's commit function (see pgCommitFunctions.ts).
      const cut = proxy.arm('liminal_commit');
      const error = await store
        .commit([
          { op: 'append', stream: 'order', payloads: [new Uint8Array([1])], expectedSeq: 0 },
          { op: 'cas', key: 'cursor', expected: 0, next: 1 },
        ])
        .catch((caught: unknown) => caught);
      await cut;
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: true });
      // All or none, and the caller resolves the doubt by reading.
      const [length, cursor] = [await direct.streamLength('order'), await direct.readValue('cursor')];
      expect({ length, cursor }).toEqual(length === 1 ? { length: 1, cursor: 1 } : { length: 0, cursor: undefined });
      console.log(`ambiguous commit: the write ${length === 1 ? 'had committed' : 'had not committed'} (read back afterwards)`);
      // The store recovers: a fresh connection serves the next call.
      expect(await store.streamLength('order')).toBe(length);
    } finally {
      await Promise.all([store.close(), direct.close()]);
      await proxy.close();
    }
  }, 60_000);

  it('rejects a single append with ambiguous: true when its autocommit statement lost the connection after being sent', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    const store = new PostgresStore(proxy.url(url!), { schema, poolSize: 1 });
    try {
      await store.streamLength('warm-up');
      const cut = proxy.arm('liminal_append_one');
      const error = await store.append('single', new Uint8Array([1]), 0).catch((caught: unknown) => caught);
      await cut;
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: true });
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 60_000);

  it('rejects with ambiguous: false when nothing could be sent (no connection), and nothing is written', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    const unreachable = proxy.url(url!);
    await proxy.close(); // nothing listens on the port any more
    const store = new PostgresStore(unreachable, { schema, poolSize: 1 });
    const direct = new PostgresStore(url!, { schema, poolSize: 1 });
    try {
      for (const call of [
        () => store.commit([{ op: 'append', stream: 'order', payloads: [new Uint8Array([1])], expectedSeq: 0 }]),
        () => store.append('order', new Uint8Array([1]), 0),
        () => store.cas('cursor', 0, 1),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: false });
      }
      expect(await direct.streamLength('order')).toBe(0);
      expect(await direct.readValue('cursor')).toBeUndefined();
    } finally {
      await Promise.all([store.close(), direct.close()]);
    }
  }, 60_000);
});
