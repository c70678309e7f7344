import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  causeMessage,
  ConfigError,
  parseStoreUrl as parseUrl,
  PostgresStore,
  SqliteStore,
  type DurableStore,
  type StoreLocation as StoreUrlLocation,
} from '@liminal/store';
import { UsageError } from './errors.js';
import { currentRunKey } from './names.js';

export const defaultStoreUrl = 'sqlite:./.liminal/demo.db';
const defaultSchema = 'liminal_demo';

/** Where the demo keeps its data, parsed from `--store` before anything is opened: never `memory:`, and a PostgreSQL schema always named. */
export type StoreLocation =
  | Extract<StoreUrlLocation, { kind: 'sqlite' }>
  | (Extract<StoreUrlLocation, { kind: 'postgres' }> & { readonly schema: string });

export function parseStoreUrl(url: string): StoreLocation {
  let location: StoreUrlLocation;
  try {
    location = parseUrl(url);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--store: ${error.message}`, { cause: error });
    throw error;
  }
  switch (location.kind) {
    case 'memory':
      throw new UsageError('--store memory: cannot be shared by worker processes; use sqlite:<file> or postgres://...');
    case 'postgres': {
      // `?schema=` picks the schema, so several demos can share one database.
      const schema = location.schema ?? defaultSchema;
      if (!/^[a-z_][a-z0-9_]{0,62}$/i.test(schema)) throw new UsageError(`--store schema ${JSON.stringify(schema)} is not a plain SQL identifier`);
      return { ...location, schema };
    }
    case 'sqlite':
      // `pnpm demo` runs in apps/demo; a relative path means relative to where the user typed the command.
      return { kind: 'sqlite', path: resolve(process.env['INIT_CWD'] ?? process.cwd(), location.path) };
  }
}

/** How a store is opened: `create` may make a new SQLite file, `existing` never writes anything new. */
export type OpenMode = 'create' | 'existing';

/**
 * Opens the store and proves it answers (one read) before the demo writes
 * anything, so an unreachable server or a file that is not a database ends
 * the run with a `UsageError` and no partial writes.
 */
export async function openDemoStore(location: StoreLocation, mode: OpenMode, probeTimeoutMs = 8_000): Promise<DurableStore> {
  const store = location.kind === 'sqlite' ? openSqlite(location.path, mode) : openPostgres(location);
  try {
    await withTimeout(store.readValue(currentRunKey), probeTimeoutMs, () => new UsageError(`${describeLocation(location)} did not answer within ${probeTimeoutMs} ms`));
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot use ${describeLocation(location)}: ${causeMessage(error)}`, { cause: error });
  }
}

export function describeLocation(location: StoreLocation): string {
  if (location.kind === 'sqlite') return `SQLite file ${location.path}`;
  const url = new URL(location.connectionString);
  url.password = url.password === '' ? '' : '***';
  return `PostgreSQL ${url.toString()} (schema ${location.schema})`;
}

/**
 * The `--store` URL of `location` as the `liminal` CLI takes it (absolute
 * SQLite path, PostgreSQL with its schema; a password is left out).
 */
export function cliStoreUrl(location: StoreLocation): string {
  if (location.kind === 'sqlite') return `sqlite:${location.path}`;
  const url = new URL(location.connectionString);
  if (url.password !== '') url.password = '<password>';
  url.searchParams.set('schema', location.schema);
  return url.toString();
}

/** A pool big enough for one connection per partition a worker drives, plus the progress reader. */
function openPostgres(location: Extract<StoreLocation, { kind: 'postgres' }>): DurableStore {
  return new PostgresStore(location.connectionString, { schema: location.schema, poolSize: 4 });
}

function openSqlite(path: string, mode: OpenMode): DurableStore {
  if (mode === 'existing' && !existsSync(path)) throw new UsageError(`SQLite file ${path} does not exist (run the demo first)`);
  const directory = dirname(path);
  const createdDirectory = !existsSync(directory);
  if (createdDirectory) mkdirSync(directory, { recursive: true });
  try {
    // NORMAL: in WAL mode a commit survives the process being killed (what the demo
    // and the chaos harness do); only a power loss could drop the last commits.
    return new SqliteStore(path, { synchronous: 'NORMAL' });
  } catch (error) {
    if (createdDirectory) rmSync(directory, { recursive: true, force: true });
    throw new UsageError(`cannot use SQLite file ${path}: ${causeMessage(error)}`, { cause: error });
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
