import pg from 'pg';
import { errorMessage, StoreUnavailableError } from '@liminal/store';

/** The PostgreSQL every Liminal test uses: `LIMINAL_PG_URL`, or the local trust-auth cluster. */
export const testPostgresUrl: string = process.env['LIMINAL_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Resolves to the test PostgreSQL URL when it accepts a connection, or to
 * `undefined` after printing a loud warning so the caller can skip. Under
 * `CI=true` an unreachable PostgreSQL is a failure, never a silent skip.
 */
export async function postgresForTests(url: string = testPostgresUrl): Promise<string | undefined> {
  try {
    await probePostgres(url, 3_000);
    return url;
  } catch (cause) {
    const reason = errorMessage(cause);
    if (process.env['CI'] === 'true') {
      throw new StoreUnavailableError(`PostgreSQL at ${url} is unreachable under CI=true: ${reason}`, { cause });
    }
    console.warn(
      `\n${'!'.repeat(78)}\n!! PostgreSQL at ${url} is unreachable (${reason}).\n` +
        `!! PostgreSQL tests are SKIPPED. Set LIMINAL_PG_URL or start the local cluster.\n${'!'.repeat(78)}\n`,
    );
    return undefined;
  }
}

/** Resolves once `url` accepts a connection and answers a query; rejects with the driver's error otherwise. */
export async function probePostgres(url: string, connectionTimeoutMillis: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a schema a test created. Tests share one database: drop only what you created. */
export async function dropTestSchema(schema: string, url: string = testPostgresUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}
