import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceNodeArgs } from '@liminal/testkit';

const directories: string[] = [];
afterEach(() => directories.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function run(example: string, ...args: string[]) {
  const file = fileURLToPath(new URL(`../examples/${example}`, import.meta.url));
  const result = spawnSync(process.execPath, [...sourceNodeArgs, file, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, lines: result.stdout.trim().split('\n'), stderr: result.stderr };
}

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'liminal-durability-example-'));
  directories.push(dir);
  return join(dir, 'store.db');
}

describe('README examples', () => {
  it('are the code of examples/ (the README shows each file without its header comment)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const shown = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    const files = ['effectivelyOnce.ts', 'resumeConversation.ts', 'workerGroup.ts'].map((name) =>
      readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8').replace(/^(\/\/.*\n)+/, ''),
    );
    expect(shown).toEqual(files);
  });

  it('charges every order exactly once although the process crashes before its checkpoint', () => {
    const db = tempDb();

    const first = run('effectivelyOnce.ts', db, '3');
    expect(first.status, first.stderr).toBe(1);
    expect(first.lines.filter((line) => line.startsWith('charged'))).toEqual(['charged order a', 'charged order b', 'charged order c']);

    const second = run('effectivelyOnce.ts', db);
    expect(second.status, second.stderr).toBe(0);
    // Republishing after the restart appended nothing: the offsets are the original ones.
    expect(second.lines.filter((line) => line.startsWith('published'))).toEqual(first.lines.filter((line) => line.startsWith('published')));
    expect(second.lines.filter((line) => line.startsWith('skipped'))).toHaveLength(3);
    expect(second.lines.filter((line) => line.startsWith('charged'))).toEqual(['charged order d', 'charged order e']);
    expect(second.lines.at(-1)).toBe('caught up at offset 5, 5 charges stored');
  });

  it('resumes a conversation after a crash at the next step, reusing the recorded output', () => {
    const db = tempDb();
    const first = run('resumeConversation.ts', db, '1');
    expect(first.status, first.stderr).toBe(1);
    expect(first.lines).toEqual(['decision: start', 'step 0: reserved stock', 'step 1: reserved stock, charged card']);
    const second = run('resumeConversation.ts', db);
    expect(second.status, second.stderr).toBe(0);
    expect(second.lines).toEqual(['decision: resumeFrom 2', 'step 2: reserved stock, charged card, shipped', 'finished: true']);
    const third = run('resumeConversation.ts', db);
    expect(third.lines).toEqual(['decision: skip', 'finished: true']);
  });

  it('a worker group member processes every order once and leaves', () => {
    const db = tempDb();
    const first = run('workerGroup.ts', db);
    expect(first.status, first.stderr).toBe(0);
    expect(first.lines[0]).toBe('holding 0, 1, 2, 3');
    expect(first.lines.filter((line) => line.startsWith('charged')).sort()).toEqual(['charged order a', 'charged order b', 'charged order c', 'charged order d']);
    expect(first.lines.at(-1)).toBe('left after 4 orders');
  });
});
