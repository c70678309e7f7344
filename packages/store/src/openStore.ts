import type { DurableStore } from './DurableStore.js';
import { MemoryStore } from './MemoryStore.js';
import { PostgresStore } from './PostgresStore.js';
import { SqliteStore } from './SqliteStore.js';
import { parseStoreUrl } from './storeUrl.js';

/**
 * Opens a store from a URL (see `parseStoreUrl`) with default options:
 * `memory:`, `sqlite:path/to/file.db` or a bare path, `postgres://...`
 * (`?schema=name` picks the schema).
 */
export async function openStore(url: string): Promise<DurableStore> {
  const location = parseStoreUrl(url);
  switch (location.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      return new SqliteStore(location.path);
    case 'postgres':
      return new PostgresStore(location.connectionString, location.schema === undefined ? {} : { schema: location.schema });
  }
}
