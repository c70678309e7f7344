import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DurableStore, openStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { runScript, startScript, worker } from './children.js';

/** Process start-up (tsx, a fresh connection) on a loaded 2-core machine: generous, and a bound only. */
const processTimeoutMs = 120_000;

const directory = mkdtempSync(join(tmpdir(), 'liminal-watch-'));
const postgresUrl = await postgresForTests();
const schema = uniqueSchemaName();
const targets: { name: string; url: string }[] = [
  { name: 'sqlite', url: `sqlite:${join(directory, 'watch.db')}` },
  ...(postgresUrl === undefined ? [] : [{ name: 'postgres', url: `${postgresUrl}?schema=${schema}` }]),
];

afterAll(async () => {
  rmSync(directory, { recursive: true, force: true });
  if (postgresUrl !== undefined) await dropTestSchema(schema, postgresUrl);
});

async function takeUntil(names: AsyncIterator<string>, wanted: string): Promise<void> {
  for (let next = await names.next(); ; next = await names.next()) {
    if (next.done === true) throw new Error(`watch ended before ${wanted}`);
    if (next.value === wanted) return;
  }
}

describe.each(targets)('watch across processes: $name', ({ name, url }) => {
  it(
    'wakes a watcher when another process appends',
    async () => {
      const store: DurableStore = await openStore(url);
      try {
        await store.append(`${name}-in/before`, new Uint8Array([1]), 0);
        const names = store.watch(`${name}-in/`)[Symbol.asyncIterator]();
        // PostgreSQL: once the stream written before watching is reported, the
        // LISTEN connection is up, so the next wake-up can only come from the
        // other process's NOTIFY. SQLite: the watcher's baseline is taken at
        // once, so any later write by another connection is a change.
        if (name === 'postgres') await takeUntil(names, `${name}-in/before`);
        await runScript(worker('appendOnce'), [url, `${name}-in/child`]);
        await takeUntil(names, `${name}-in/child`);
        await names.return?.();
      } finally {
        await store.close();
      }
    },
    processTimeoutMs,
  );

  it(
    'wakes a watcher in another process when this one appends',
    async () => {
      const child = startScript(worker('watchOnce'), [url, `${name}-out/`, `${name}-out/parent`]);
      let stdout = '';
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.startsWith('ready\n')) resolve();
        });
        child.on('close', (code) => reject(new Error(`watcher exited ${code} before ready: ${stderr}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await ready;
      const store = await openStore(url);
      try {
        await store.append(`${name}-out/parent`, new Uint8Array([1]), 0);
      } finally {
        await store.close();
      }
      expect(await exited).toBe(0);
      expect(stdout).toBe(`ready\n${name}-out/parent\n`);
    },
    processTimeoutMs,
  );
});
