import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, StoreUnavailableError } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { startPgProxy } from '../support/pgProxy.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

// A worker group's members all write the same membership counters. A member
// paused in the middle of a commit (SIGSTOP, a frozen VM) holds those rows'
// locks, and without a bound every other member waits on them until it resumes:
// the group cannot take the paused member's partitions over.
describe.skipIf(url === undefined)('a PostgreSQL session paused inside a transaction', () => {
  it('does not block other writers past idleInTransactionTimeoutMs: the server ends it, rolls it back and frees its locks', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startPgProxy(new URL(url!));
    // The default bound (5 s); the other writer's statements may wait 30 s, so only the bound can free it in time.
    const paused = new PostgresStore(proxy.url(url!), { schema, poolSize: 1 });
    const other = new PostgresStore(url!, { schema, poolSize: 1, statementTimeoutMs: 30_000 });
    try {
      await paused.streamLength('warm-up'); // schema created, connection open
      const held = proxy.withhold('COMMIT\0'); // the ops ran and locked their rows; COMMIT never arrives
      const stuck = paused
        .commit([
          { op: 'append', stream: 'members', payloads: [new Uint8Array([1])], expectedSeq: 0 },
          { op: 'cas', key: 'membership', expected: 0, next: 1 },
        ])
        .catch((caught: unknown) => caught);
      await held;
      // Waits on the paused transaction's row lock until the server ends that session.
      await other.cas('membership', 0, 7);
      expect(await other.readValue('membership')).toBe(7);
      expect(await other.streamLength('members')).toBe(0); // the paused commit was rolled back: none of it is stored
      expect(await stuck).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await Promise.all([paused.close(), other.close()]);
      await proxy.close();
    }
  }, 60_000);
});
