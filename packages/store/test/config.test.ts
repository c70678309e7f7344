import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, MemoryStore, openStore, parseStoreUrl, PostgresStore, SqliteStore } from '@liminal/store';
import { useTempDirectory } from './support/tempDirectory.js';

const any = (value: unknown) => value as never;

describe('store configuration', () => {
  const tempFile = useTempDirectory('liminal-config-test-');

  it('opens a MemoryStore for memory:', async () => {
    const store = await openStore('memory:');
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  it('rejects unusable store URLs with ConfigError', async () => {
    for (const url of ['', any(undefined), any(42), 'memory:extra', 'mysql://localhost/db', 'sqlite:', 'postgres://[not-a-host']) {
      const error = await openStore(url).catch((caught: unknown) => caught);
      expect(error, String(url)).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'CONFIG' });
    }
  });

  it('parses store URLs without opening anything: the schema is kept apart from the driver URL', () => {
    expect(parseStoreUrl('memory:')).toEqual({ kind: 'memory' });
    expect(parseStoreUrl('sqlite:data/x.db')).toEqual({ kind: 'sqlite', path: 'data/x.db' });
    expect(parseStoreUrl('relative/y.db')).toEqual({ kind: 'sqlite', path: 'relative/y.db' });
    expect(parseStoreUrl('C:\\data\\z.db')).toEqual({ kind: 'sqlite', path: 'C:\\data\\z.db' });
    expect(parseStoreUrl('postgres://u@h:5432/db?schema=abc&application_name=app')).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u@h:5432/db?application_name=app',
      schema: 'abc',
    });
    expect(parseStoreUrl('postgresql://u@h/db')).toEqual({ kind: 'postgres', connectionString: 'postgresql://u@h/db', schema: undefined });
    for (const url of ['', any(undefined), 'sqlite', 'memory:extra', 'mysql://localhost/db', 'sqlite:', 'postgres://[not-a-host']) {
      expect(() => parseStoreUrl(url), String(url)).toThrow(ConfigError);
    }
  });

  it('rejects unusable SqliteStore arguments with ConfigError, creating no file', () => {
    const path = tempFile('never.db');
    const attempts = [
      () => new SqliteStore(''),
      () => new SqliteStore(any(undefined)),
      () => new SqliteStore(path, any(null)),
      () => new SqliteStore(path, any({ synchronous: 'sometimes' })),
      () => new SqliteStore(path, { busyTimeoutMs: -1 }),
      () => new SqliteStore(path, { busyTimeoutMs: 1.5 }),
      () => new SqliteStore(path, { maxQueuedWrites: 0 }),
      () => new SqliteStore(path, any({ maxQueuedWrites: '64' })),
    ];
    for (const attempt of attempts) expect(attempt).toThrow(ConfigError);
    expect(existsSync(path)).toBe(false);
  });

  it('rejects unusable PostgresStore arguments with ConfigError before connecting', () => {
    const url = 'postgres://postgres@127.0.0.1:1/never';
    const attempts = [
      () => new PostgresStore(''),
      () => new PostgresStore(url, any(null)),
      () => new PostgresStore(url, { schema: '' }),
      () => new PostgresStore(url, { schema: 'x'.repeat(64) }),
      () => new PostgresStore(url, { schema: 'nul\u0000' }),
      () => new PostgresStore(url, { poolSize: 0 }),
      () => new PostgresStore(url, { poolSize: 2.5 }),
    ];
    for (const attempt of attempts) expect(attempt).toThrow(ConfigError);
  });
});
