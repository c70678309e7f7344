import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const example = fileURLToPath(new URL('../examples/effectivelyOnce.ts', import.meta.url));
const directories: string[] = [];
afterEach(() => directories.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function run(...args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=@liminal/source', '--import', 'tsx', example, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, lines: result.stdout.trim().split('\n'), stderr: result.stderr };
}

describe('README example: effectively-once consumer', () => {
  it('charges every order exactly once although the process crashes before its checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'liminal-durability-example-'));
    directories.push(dir);
    const db = join(dir, 'orders.db');

    const first = run(db, '3');
    expect(first.status, first.stderr).toBe(1);
    expect(first.lines.filter((line) => line.startsWith('charged'))).toEqual(['charged order a', 'charged order b', 'charged order c']);

    const second = run(db);
    expect(second.status, second.stderr).toBe(0);
    // Republishing after the restart appended nothing: the offsets are the original ones.
    expect(second.lines.filter((line) => line.startsWith('published'))).toEqual(first.lines.filter((line) => line.startsWith('published')));
    expect(second.lines.filter((line) => line.startsWith('skipped'))).toHaveLength(3);
    expect(second.lines.filter((line) => line.startsWith('charged'))).toEqual(['charged order d', 'charged order e']);
    expect(second.lines.at(-1)).toBe('caught up at offset 5');
  });
});
