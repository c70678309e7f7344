import pg from 'pg';
import type { BenchContext } from './suite.js';

/** Drops a schema this run created (never anything else: the name is unique to the run). */
export function dropSchemaOnCleanup(bench: BenchContext, url: string, schema: string): void {
  bench.cleanup(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  });
}

/**
 * A scratch database for a peer that cannot be pointed at a schema (Emmett
 * PostgreSQL and DBOS create their tables where they like), dropped after the
 * suite. Returns its connection URL on the same server.
 */
export async function scratchDatabase(bench: BenchContext, url: string, prefix: string): Promise<string> {
  const name = bench.uniqueName(prefix).toLowerCase();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  bench.cleanup(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const scratch = new URL(url);
  scratch.pathname = `/${name}`;
  return scratch.toString();
}
