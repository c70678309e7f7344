import type { DurableStore } from './DurableStore.js';
import { ConfigError } from './errors.js';
import { MemoryStore } from './MemoryStore.js';
import { PostgresStore } from './PostgresStore.js';
import { SqliteStore } from './SqliteStore.js';

/**
 * Opens a store from a URL: `memory:`, `sqlite:path/to/file.db` or a bare
 * path (SQLite with default options), `postgres://...` / `postgresql://...`
 * (an optional `?schema=name` picks the schema; it is not passed to the driver).
 */
export async function openStore(url: string): Promise<DurableStore> {
  if (typeof url !== 'string' || url.length === 0) throw new ConfigError('store URL must be a non-empty string');
  if (url === 'memory:') return new MemoryStore();
  // A scheme without its colon is a typo, not a file to create in the working directory.
  if (/^(memory|sqlite|postgres|postgresql)$/i.test(url.trim())) {
    throw new ConfigError(`store URL ${JSON.stringify(url)} looks like a scheme without its colon (memory:, sqlite:path, postgres://...)`);
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new ConfigError('sqlite: URL needs a file path, e.g. sqlite:data/liminal.db');
    return new SqliteStore(path);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url);
  // Anything else with a scheme (`memory:x`, `mysql://`) is a typo, not a file name.
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[a-z]:[\\/]/i.test(url)) {
    throw new ConfigError(`unsupported store URL ${JSON.stringify(url)}`);
  }
  return new SqliteStore(url);
}

function openPostgres(url: string): PostgresStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`invalid PostgreSQL URL ${JSON.stringify(url)}`, { cause });
  }
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  return new PostgresStore(parsed.toString(), schema === null ? {} : { schema });
}
