import { dropTestSchema } from '@liminal/testkit';
import { PostgresStore } from '@liminal/store';
import pg from 'pg';
import { RawPg } from './baselines/rawPg.js';
import type { BenchContext } from './suite.js';

/** Drops a schema this run created (never anything else: the name is unique to the run). */
export function dropSchemaOnCleanup(bench: BenchContext, url: string, schema: string): void {
  bench.cleanup(() => dropTestSchema(schema, url));
}

/**
 * A PostgresStore and the raw pg peer it is measured against, each in a schema
 * of its own that is unique to this run; both are closed, then their schemas
 * dropped, after the suite (cleanups run last-registered first).
 */
export async function storeAndRawPeer(
  bench: BenchContext,
  url: string,
  prefix: string,
  poolSize: number,
): Promise<{ store: PostgresStore; raw: RawPg }> {
  const schema = bench.uniqueName(prefix);
  dropSchemaOnCleanup(bench, url, schema);
  dropSchemaOnCleanup(bench, url, `${schema}_raw`);
  const store = new PostgresStore(url, { schema, poolSize });
  const raw = new RawPg(url, `${schema}_raw`, poolSize);
  bench.cleanup(() => store.close());
  bench.cleanup(() => raw.close());
  await raw.ready();
  return { store, raw };
}

/**
 * A scratch database for a peer that cannot be pointed at a schema (Emmett
 * PostgreSQL and DBOS create their tables where they like), dropped after the
 * suite. Returns its connection URL on the same server.
 */
export async function scratchDatabase(bench: BenchContext, url: string, prefix: string): Promise<string> {
  const name = bench.uniqueName(prefix).toLowerCase();
  await runStatement(url, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  bench.cleanup(() => runStatement(url, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
  const scratch = new URL(url);
  scratch.pathname = `/${name}`;
  return scratch.toString();
}

/** Runs one statement on a connection of its own, closed after it. */
async function runStatement(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
