import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Environment } from './results.js';

export const benchDir = join(import.meta.dirname, '..');

/** Installed versions, read from disk so RESULTS.md names what actually ran. */
const packages: readonly (readonly [name: string, from: string])[] = [
  ['better-sqlite3', '.'],
  ['pg', '.'],
  ['tinybench', '.'],
  ['xstate', '.'],
  ['@event-driven-io/emmett-sqlite', 'peers/emmett-sqlite'],
  ['@event-driven-io/emmett', 'peers/emmett-sqlite'],
  ['sqlite3', 'peers/emmett-sqlite'],
  ['@event-driven-io/emmett-postgresql', 'peers/emmett-postgresql'],
  ['@event-driven-io/pongo', 'peers/emmett-postgresql'],
  ['@dbos-inc/dbos-sdk', 'peers/dbos'],
  ['graphile-worker', 'peers/graphile-worker'],
  ['pg-boss', 'peers/pg-boss'],
];

function installedVersion(name: string, from: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(benchDir, from, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return manifest.version;
  } catch {
    return 'not installed';
  }
}

async function postgresVersion(url: string | undefined): Promise<string> {
  if (!url) return 'unreachable';
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    const fsync = await client.query<{ fsync: string }>('show fsync');
    const commit = await client.query<{ synchronous_commit: string }>('show synchronous_commit');
    return `${rows[0]?.server_version} (fsync=${fsync.rows[0]?.fsync}, synchronous_commit=${commit.rows[0]?.synchronous_commit})`;
  } finally {
    await client.end();
  }
}

/** The commit measured, and whether the Liminal sources had uncommitted changes (work in progress). */
function sourceRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: benchDir, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages'], { cwd: benchDir, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in packages/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export async function readEnvironment(postgresUrl: string | undefined): Promise<Environment> {
  const db = new Database(':memory:');
  const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  db.close();
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    revision: sourceRevision(),
    postgres: await postgresVersion(postgresUrl),
    sqlite: `${sqlite} (better-sqlite3)`,
    packages: Object.fromEntries(packages.map(([name, from]) => [name, installedVersion(name, from)])),
  };
}
