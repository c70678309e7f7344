import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { ConfigError, openStore, SequenceConflictError, SqliteStore, StoreUnavailableError } from '@liminal/store';
import { useTempDirectory } from './support/tempDirectory.js';

describe('SqliteStore', () => {
  const tempFile = useTempDirectory('liminal-sqlite-test-');

  it('keeps entries and counters in the file across reopening', async () => {
    const path = tempFile('store.db');
    const first = new SqliteStore(path);
    await first.appendMany('s', [new Uint8Array([1]), new Uint8Array([2])], 0);
    await first.cas('k', 0, 7);
    await first.close();

    const second = new SqliteStore(path, { synchronous: 'NORMAL' });
    expect(await second.readFrom('s', 0, 10)).toEqual([
      { sequence: 0, payload: new Uint8Array([1]) },
      { sequence: 1, payload: new Uint8Array([2]) },
    ]);
    expect(await second.readValue('k')).toBe(7);
    await second.close();
  });

  it('keeps one file in WAL mode', async () => {
    const path = tempFile('wal.db');
    const store = new SqliteStore(path);
    await store.append('s', new Uint8Array([1]), 0);
    const other = new Database(path, { readonly: true });
    expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    other.close();
    await store.close();
  });

  it('is what openStore returns for sqlite: URLs and bare paths, sharing one file', async () => {
    const path = tempFile('shared.db');
    const viaUrl = await openStore(`sqlite:${path}`);
    const viaPath = await openStore(path);
    expect(viaUrl).toBeInstanceOf(SqliteStore);
    await viaUrl.append('s', new Uint8Array([9]), 0);
    expect(await viaPath.streamLength('s')).toBe(1);
    await Promise.all([viaUrl.close(), viaPath.close()]);
  });

  it('rejects an unknown synchronous level and an empty sqlite: path with ConfigError', async () => {
    const bad = { synchronous: 'SOMETIMES' } as unknown as ConstructorParameters<typeof SqliteStore>[1];
    expect(() => new SqliteStore(tempFile('x.db'), bad)).toThrow(ConfigError);
    await expect(openStore('sqlite:')).rejects.toBeInstanceOf(ConfigError);
    await expect(openStore('mysql://localhost/db')).rejects.toBeInstanceOf(ConfigError);
  });

  it('fails every append of a batch whose commit fails, writing none of them, and recovers afterwards', async () => {
    const path = tempFile('locked.db');
    const store = new SqliteStore(path, { busyTimeoutMs: 50 });
    await store.append('a', new Uint8Array([0]), 0);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    const outcomes = await Promise.allSettled(
      ['a', 'b', 'c'].map((name) => store.append(name, new Uint8Array([1]), name === 'a' ? 1 : 0)),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }
    blocker.exec('ROLLBACK');
    blocker.close();
    expect(await store.listStreams('')).toEqual(['a']);
    expect(await store.streamLength('a')).toBe(1);
    expect(await Promise.all([store.append('a', new Uint8Array([1]), 1), store.append('b', new Uint8Array([1]), 0)])).toEqual([1, 0]);
    await store.close();
  });

  it('checks a lone single append (its one-statement path) like a batch: conflict with the actual length, lock held elsewhere is StoreUnavailableError, nothing written', async () => {
    const path = tempFile('lone.db');
    const store = new SqliteStore(path, { busyTimeoutMs: 50 });
    await store.append('a', new Uint8Array([0]), 0);
    const other = new Database(path);
    other.prepare('INSERT INTO entries (stream, seq, payload) VALUES (?, ?, ?)').run('a', 1, Buffer.from([9]));
    const conflict = await store.append('a', new Uint8Array([1]), 1).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(SequenceConflictError);
    expect(conflict).toMatchObject({ stream: 'a', expected: 1, actual: 2 });
    await expect(store.append('a', new Uint8Array([1]), 3)).rejects.toMatchObject({ expected: 3, actual: 2 });
    other.exec('BEGIN IMMEDIATE');
    await expect(store.append('a', new Uint8Array([1]), 2)).rejects.toBeInstanceOf(StoreUnavailableError);
    other.exec('ROLLBACK');
    other.close();
    expect((await store.readFrom('a', 0, 10)).map((entry) => [...entry.payload])).toEqual([[0], [9]]);
    expect(await store.append('a', new Uint8Array([2]), 2)).toBe(2);
    await store.close();
  });

  it('commits appends accepted before close()', async () => {
    const path = tempFile('closing.db');
    const store = new SqliteStore(path);
    const appended = store.append('s', new Uint8Array([1]), 0);
    await store.close();
    expect(await appended).toBe(0);
    const reopened = new SqliteStore(path);
    expect(await reopened.streamLength('s')).toBe(1);
    await reopened.close();
  });
});
