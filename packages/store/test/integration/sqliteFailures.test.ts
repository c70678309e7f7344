import { execFileSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync, writeSync, closeSync, chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  type DurableStore,
  SqliteStore,
  StoreCorruptError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '@liminal/store';
import { useTempDirectory } from '../support/tempDirectory.js';
import { startScript, worker } from './children.js';

/** Descriptors this process holds open on `path` (a leaked handle shows up here). */
function openDescriptors(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed while listing
    }
  }).length;
}

function thrownBy(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const bytes = (n: number) => new Uint8Array([n]);

describe('SQLite failures are typed errors, and nothing is written or leaked', () => {
  const tempFile = useTempDirectory('liminal-sqlite-failures-');

  for (const [what, ddl] of [
    ['foreign entries and counters tables', 'CREATE TABLE entries (id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE counters (name TEXT, n INT);'],
    ['a foreign entries table only (counters absent)', 'CREATE TABLE entries (stream TEXT, seq INTEGER, payload BLOB);'],
    ['a view named counters', 'CREATE TABLE things (k TEXT, v INTEGER); CREATE VIEW counters AS SELECT k AS key, v AS value FROM things;'],
  ] as const) {
    it(`refuses a file holding ${what} with ConfigError, changes nothing in it and keeps no handle on it`, () => {
      const path = tempFile('foreign.db');
      const other = new Database(path);
      other.exec(ddl);
      other.exec(`CREATE TABLE IF NOT EXISTS app_data (x TEXT); INSERT INTO app_data VALUES ('keep me');`);
      other.close();
      const before = readFileSync(path);

      const error = thrownBy(() => new SqliteStore(path));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/not a Liminal store/) as unknown });
      expect(openDescriptors(path)).toBe(0);
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(existsSync(`${path}-wal`)).toBe(false);
      const reopened = new Database(path, { readonly: true });
      expect(reopened.prepare('SELECT x FROM app_data').all()).toEqual([{ x: 'keep me' }]);
      reopened.close();
    });
  }

  it('opens a file the store created before, and one holding other tables next to none of its own', async () => {
    const path = tempFile('mine.db');
    const other = new Database(path);
    other.exec(`CREATE TABLE app_data (x TEXT); INSERT INTO app_data VALUES ('neighbour');`);
    other.close();
    const first = new SqliteStore(path);
    await first.append('s', bytes(1), 0);
    await first.close();
    const second = new SqliteStore(path);
    expect(await second.streamLength('s')).toBe(1);
    await second.close();
  });

  it('refuses a file that is not a database with StoreCorruptError, unchanged and not held open', () => {
    const path = tempFile('notes.db');
    writeFileSync(path, 'these are my notes, not a database; '.repeat(40));
    const before = readFileSync(path);
    const error = thrownBy(() => new SqliteStore(path));
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(error).not.toBeInstanceOf(StoreUnavailableError); // retrying cannot help
    expect(openDescriptors(path)).toBe(0);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('reports a store file with corrupt pages as StoreCorruptError on the call that reads them', async () => {
    const path = tempFile('corrupt.db');
    const store = new SqliteStore(path);
    for (let i = 0; i < 200; i++) await store.append(`s${i}`, new Uint8Array(500).fill(i), 0);
    await store.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(3 * 4096, 0xff), 0, 3 * 4096, 4096); // pages 2-4: index and leaf pages of entries
    closeSync(fd);
    const reopened = new SqliteStore(path);
    const reads = await Promise.allSettled([...Array(200).keys()].map((i) => reopened.readFrom(`s${i}`, 0, 1)));
    const failures = reads.filter((read) => read.status === 'rejected').map((read) => read.reason as unknown);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toBeInstanceOf(StoreCorruptError);
    await reopened.close();
  });

  it('refuses a directory that does not exist with ConfigError, creating nothing', () => {
    const path = tempFile('missing-directory/store.db');
    expect(thrownBy(() => new SqliteStore(path))).toBeInstanceOf(ConfigError);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses writes to a read-only store file with ConfigError, reads still served, the file unchanged', async () => {
    const path = tempFile('readonly.db');
    const writer = new SqliteStore(path);
    await writer.append('s', bytes(1), 0);
    await writer.close();
    const before = readFileSync(path);
    // Root ignores permission bits, so for root the file is made immutable instead.
    const root = process.getuid?.() === 0;
    if (root) execFileSync('chattr', ['+i', path]);
    else chmodSync(path, 0o444);
    try {
      const store = new SqliteStore(path);
      expect(await store.readFrom('s', 0, 10)).toEqual([{ sequence: 0, payload: bytes(1) }]);
      for (const write of [() => store.append('s', bytes(2), 1), () => store.cas('k', 0, 1), () => store.commit([{ op: 'deleteStream', stream: 's', expectedLength: 1 }])]) {
        const error = await write().then(() => undefined, (reason: unknown) => reason);
        expect(error).toBeInstanceOf(ConfigError);
        expect(error).toMatchObject({ code: 'CONFIG', message: expect.stringContaining('SQLITE_READONLY') as unknown });
      }
      expect(await store.streamLength('s')).toBe(1);
      await store.close();
      expect(openDescriptors(path)).toBe(0);
    } finally {
      if (root) execFileSync('chattr', ['-i', path]);
      else chmodSync(path, 0o644);
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('fails a write with StoreTimeoutError while another process holds the write lock past busyTimeoutMs, writes nothing, and works once it is released', async () => {
    const path = tempFile('busy.db');
    const store: DurableStore = new SqliteStore(path, { busyTimeoutMs: 100 });
    await store.append('s', bytes(0), 0);
    const holder = startScript(worker('lockHolder'), [path], 'pipe');
    const exited = new Promise((resolve) => holder.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        holder.on('close', (code) => reject(new Error(`lock holder exited ${code}`)));
      });
      const outcomes = await Promise.allSettled([
        store.append('s', bytes(1), 1),
        store.commit([{ op: 'cas', key: 'k', expected: 0, next: 1 }]),
        store.cas('k', 0, 1),
      ]);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as unknown;
        expect(reason).toBeInstanceOf(StoreTimeoutError);
        expect(reason).toBeInstanceOf(StoreUnavailableError); // retryable
        expect(reason).toMatchObject({ code: 'TIMEOUT', timeoutMs: 100, ambiguous: false });
      }
      expect(await store.streamLength('s')).toBe(1); // reads still work in WAL mode
    } finally {
      holder.stdin?.end();
      await exited;
    }
    expect(await store.readValue('k')).toBeUndefined();
    await store.append('s', bytes(1), 1);
    expect(await store.streamLength('s')).toBe(2);
    await store.close();
  }, 60_000);
});
