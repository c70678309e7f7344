import { describe, expect, it } from 'vitest';
import { SqliteStore } from '@liminal/store';
import { startScript, worker } from './children.js';
import { useTempDirectory } from '../support/tempDirectory.js';

/** Lets the child acknowledge this many appends before it is killed mid-loop. */
const acknowledgementsBeforeKill = 300;

describe('SqliteStore after a kill -9', () => {
  const tempFile = useTempDirectory('liminal-crash-');

  it.each([
    { writers: 1, mode: 'append', case: 'one appender' },
    { writers: 8, mode: 'append', case: '8 concurrent appenders, group-committed' },
    { writers: 4, mode: 'clientLifetime', case: "4 writers of commits of 'clientLifetime' durability, which skip the fsync" },
  ])('holds gap-free streams containing every append acknowledged before the crash ($case)', async ({ writers, mode }) => {
    const path = tempFile('crash.db');
    const child = startScript(worker('crashingAppender'), [path, String(writers), mode]);
    const acknowledged = Array.from({ length: writers }, (): number[] => []);
    let count = 0;
    let pending = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close' comes after the exit *and* after stdout is drained, so no acknowledged line is missed.
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [writer, sequence] = line.split(' ').map(Number);
        acknowledged[writer!]!.push(sequence!);
        count++;
      }
      if (count >= acknowledgementsBeforeKill) child.kill('SIGKILL');
    });
    const signal = await closed;
    expect(signal, `the child died on its own: ${stderr}`).toBe('SIGKILL');
    expect(pending).toBe('');

    const store = new SqliteStore(path);
    for (const [writer, sequences] of acknowledged.entries()) {
      const stream = `log-${writer}`;
      const length = await store.streamLength(stream);
      const entries = await store.readFrom(stream, 0, length + 1);
      expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, index) => index));
      expect(length).toBeGreaterThanOrEqual(sequences.length);
      expect(entries.map((entry) => entry.sequence)).toEqual(Array.from({ length }, (_, index) => index));
      expect(entries.map((entry) => new TextDecoder().decode(entry.payload))).toEqual(
        Array.from({ length }, (_, index) => `entry-${index}`),
      );
    }
    await store.close();
  });
});
