import pg from 'pg';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { privatePostgresForTests, testPostgresUrl } from '@liminal/testkit';

async function backendStart(url: string): Promise<{ started: string; port: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ started: string; port: string }>(
      "SELECT pg_postmaster_start_time()::text AS started, current_setting('port') AS port",
    );
    return { started: rows[0]!.started, port: Number(rows[0]!.port) };
  } finally {
    await client.end();
  }
}

describe('a private PostgreSQL cluster', () => {
  it('starts on its own loopback port, restarts without touching the shared server, and is removed on stop', async () => {
    const cluster = await privatePostgresForTests();
    if (cluster === undefined) return;
    const sharedBefore = await backendStart(testPostgresUrl).catch(() => undefined);
    try {
      expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`);
      const before = await backendStart(cluster.url);
      expect(before.port).toBe(cluster.port);
      expect(before.port).not.toBe(sharedBefore?.port);
      await cluster.restart();
      expect((await backendStart(cluster.url)).started).not.toBe(before.started);
      if (sharedBefore !== undefined) expect(await backendStart(testPostgresUrl)).toEqual(sharedBefore);
    } finally {
      await cluster.stop();
    }
    await expect(backendStart(cluster.url)).rejects.toThrow();
    expect(existsSync(cluster.directory)).toBe(false);
  }, 120_000);
});
