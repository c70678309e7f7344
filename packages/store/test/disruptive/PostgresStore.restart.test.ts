import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '@liminal/store';
import { type PrivatePostgres, privatePostgresForTests } from '@liminal/testkit';

// A cluster of this file's own: restarting it disturbs nobody else's tests.
let cluster: PrivatePostgres | undefined;
beforeAll(async () => {
  cluster = await privatePostgresForTests();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

async function takeUntil(names: AsyncIterator<string>, wanted: string): Promise<void> {
  for (let next = await names.next(); ; next = await names.next()) {
    if (next.done === true) throw new Error(`watch ended before ${wanted}`);
    if (next.value === wanted) return;
  }
}

describe('PostgresStore across a PostgreSQL restart', () => {
  it('discards the dead pooled connections and serves the next call on a fresh one', async (context) => {
    if (cluster === undefined) return context.skip();
    const store = new PostgresStore(cluster.url, { schema: 'pool_restart', poolSize: 3 });
    try {
      // Fill the pool with idle connections that the restart will kill.
      await Promise.all([0, 1, 2].map((index) => store.cas(`before-${index}`, 0, 1)));
      await store.append('s', new Uint8Array([1]), 0);

      await cluster.restart();

      expect(await store.append('s', new Uint8Array([2]), 1)).toBe(1);
      expect(await store.readFrom('s', 0, 10)).toEqual([
        { sequence: 0, payload: new Uint8Array([1]) },
        { sequence: 1, payload: new Uint8Array([2]) },
      ]);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('does not leave a watcher deaf: it LISTENs again and hears writes from another store after the restart', async (context) => {
    if (cluster === undefined) return context.skip();
    const [watching, writing] = [new PostgresStore(cluster.url, { schema: 'watch_restart' }), new PostgresStore(cluster.url, { schema: 'watch_restart' })];
    try {
      await writing.append('feed/before', new Uint8Array([1]), 0);
      const names = watching.watch('feed/')[Symbol.asyncIterator]();
      // Reported by the first LISTEN's full wake-up: the listener is up.
      await takeUntil(names, 'feed/before');
      await cluster.restart();
      // Written while the listener may still be reconnecting: the re-LISTEN's full wake-up reports it if the NOTIFY was missed.
      await writing.append('feed/during', new Uint8Array([1]), 0);
      await takeUntil(names, 'feed/during');
      await writing.append('feed/after', new Uint8Array([1]), 0);
      await takeUntil(names, 'feed/after');
      await names.return?.();
    } finally {
      await Promise.all([watching.close(), writing.close()]);
    }
  }, 120_000);
});
