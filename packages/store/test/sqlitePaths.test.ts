import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, openStore, SqliteStore } from '@liminal/store';

const directory = mkdtempSync(join(tmpdir(), 'liminal-paths-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('SQLite paths and store URLs that would not give a durable store', () => {
  it('refuses scheme typos, blank paths, NUL and :memory: with ConfigError instead of creating a file', async () => {
    for (const url of ['memory', 'sqlite', 'postgres', ' ', '   ', 'sqlite: ', 'sqlite::memory:']) {
      await expect(openStore(url), url).rejects.toBeInstanceOf(ConfigError);
    }
    for (const path of [' ', `${join(directory, 'a')}\u0000b.db`, ':memory:', 'file::memory:?cache=shared']) {
      expect(() => new SqliteStore(path), JSON.stringify(path)).toThrow(ConfigError);
    }
  });

  it('turns an existing empty file into a store (SQLite treats a 0-byte file as an empty database), as documented', async () => {
    const path = join(directory, 'empty.db');
    writeFileSync(path, '');
    const store = new SqliteStore(path);
    expect(await store.append('s', new Uint8Array([1]), 0)).toBe(0);
    await store.close();
  });
});

describe('SQLite and the event loop', () => {
  it('yields now and then during a loop of awaited calls, so a setImmediate callback runs before the loop ends', async () => {
    const store = new SqliteStore(join(directory, 'yield.db'));
    try {
      await store.append('s', new Uint8Array([1]), 0);
      let ran = false;
      setImmediate(() => (ran = true));
      let ranDuringLoop = false;
      for (let call = 0; call < 2_000; call++) {
        await store.readFrom('s', 0, 1);
        if (ran) ranDuringLoop = true;
      }
      for (let seq = 1; seq < 500; seq++) await store.append('s', new Uint8Array([1]), seq);
      expect(ranDuringLoop).toBe(true);
    } finally {
      await store.close();
    }
  });
});
