import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, StoreUnavailableError } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { startPgProxy } from '../support/pgProxy.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

// A session paused in the middle of a transaction (SIGSTOP, a frozen VM) holds
// its rows' locks, and without a bound every other writer of those rows waits
// until it resumes. A commit cannot be paused that way (it is one statement:
// the server runs it to the end whatever the client does), but deleteStream
// is a transaction of several statements.
describe.skipIf(url === undefined)('a PostgreSQL session paused inside a transaction', () => {
  it('does not block other writers past idleInTransactionTimeoutMs: the server ends it, rolls it back and frees its locks', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    // The default bound (5 s); the other writer's statements may wait 30 s, so only the bound can free it in time.
    const paused = new PostgresStore(proxy.url(url!), { schema, poolSize: 1 });
    const other = new PostgresStore(url!, { schema, poolSize: 1, statementTimeoutMs: 30_000 });
    try {
      await paused.appendMany('members', [new Uint8Array([1]), new Uint8Array([2])], 0);
      const held = proxy.withhold('COMMIT\0'); // the DELETE ran and locked the entries; COMMIT never arrives
      const stuck = paused.deleteStream('members').catch((caught: unknown) => caught);
      await held;
      // Waits on the paused transaction's lock of the last entry until the server ends that session.
      await other.append('members', new Uint8Array([3]), 2);
      expect(await other.streamLength('members')).toBe(3); // the paused delete was rolled back: nothing of it is stored
      expect(await stuck).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await Promise.all([paused.close(), other.close()]);
      await proxy.close();
    }
  }, 60_000);
});
