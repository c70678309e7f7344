import { ConfigError } from './errors.js';

/** Which store a URL names, parsed before anything is opened. */
export type StoreLocation =
  | { readonly kind: 'memory' }
  /** `path` as written: relative paths are relative to the process's working directory. */
  | { readonly kind: 'sqlite'; readonly path: string }
  /** `connectionString` without the `schema` parameter, which is Liminal's and not the driver's. */
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string | undefined };

/**
 * Parses a store URL: `memory:`, `sqlite:path/to/file.db` or a bare path
 * (SQLite), `postgres://...` / `postgresql://...` with an optional
 * `?schema=name`. A bad URL is a `ConfigError`: a scheme without its colon
 * or an unknown scheme is a typo, never a file name to create.
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (typeof url !== 'string' || url.length === 0) throw new ConfigError('store URL must be a non-empty string');
  if (url === 'memory:') return { kind: 'memory' };
  if (/^(memory|sqlite|postgres|postgresql)$/i.test(url.trim())) {
    throw new ConfigError(`store URL ${JSON.stringify(url)} looks like a scheme without its colon (memory:, sqlite:path, postgres://...)`);
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new ConfigError('sqlite: URL needs a file path, e.g. sqlite:data/liminal.db');
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return parsePostgres(url);
  // A drive letter (C:\...) is a path; anything else with a scheme (`memory:x`, `mysql://`) is not.
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !/^[a-z]:[\\/]/i.test(url)) {
    throw new ConfigError(`unsupported store URL ${JSON.stringify(url)}: expected sqlite:<file>, a file path, postgres://user@host/db[?schema=name] or memory:`);
  }
  return { kind: 'sqlite', path: url };
}

function parsePostgres(url: string): StoreLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`invalid PostgreSQL URL ${JSON.stringify(url)}`, { cause });
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return { kind: 'postgres', connectionString: parsed.toString(), schema };
}
