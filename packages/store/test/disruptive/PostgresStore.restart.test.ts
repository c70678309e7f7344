import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/store/testing';

const url = await postgresForTests();

async function restartPostgres(): Promise<void> {
  const [version] = readdirSync('/etc/postgresql');
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version!, 'main', 'restart'], { stdio: 'inherit' });
  for (let attempt = 0; attempt < 60; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch {
      await sleep(500);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new Error('PostgreSQL did not come back within 30 s');
}

describe.skipIf(url === undefined)('PostgresStore across a PostgreSQL restart', () => {
  it('discards the dead pooled connections and serves the next call on a fresh one', async () => {
    const schema = uniqueSchemaName();
    const store = new PostgresStore(url!, { schema, poolSize: 3 });
    try {
      // Fill the pool with idle connections that the restart will kill.
      await Promise.all([0, 1, 2].map((index) => store.cas(`before-${index}`, 0, 1)));
      await store.append('s', new Uint8Array([1]), 0);

      await restartPostgres();

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
