import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '@liminal/store';
import { startScript, worker } from './children.js';

/** Lets the child acknowledge this many appends before it is killed mid-loop. */
const acknowledgementsBeforeKill = 300;

describe('SqliteStore after a kill -9', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'liminal-crash-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('holds a gap-free stream containing every append acknowledged before the crash', async () => {
    const path = join(directory, 'crash.db');
    const child = startScript(worker('crashingAppender'), [path, 'log']);
    const acknowledged: number[] = [];
    let pending = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close' comes after the exit *and* after stdout is drained, so no acknowledged line is missed.
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      acknowledged.push(...lines.map(Number));
      if (acknowledged.length >= acknowledgementsBeforeKill) child.kill('SIGKILL');
    });
    const signal = await closed;
    expect(signal, `the child died on its own: ${stderr}`).toBe('SIGKILL');
    expect(pending).toBe('');

    const store = new SqliteStore(path);
    const length = await store.streamLength('log');
    const entries = await store.readFrom('log', 0, length + 1);
    await store.close();

    expect(acknowledged).toEqual(Array.from({ length: acknowledged.length }, (_, index) => index));
    expect(length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(entries.map((entry) => entry.sequence)).toEqual(Array.from({ length }, (_, index) => index));
    expect(entries.map((entry) => new TextDecoder().decode(entry.payload))).toEqual(
      Array.from({ length }, (_, index) => `entry-${index}`),
    );
  });
});
