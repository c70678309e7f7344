import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { liminal } from './support/cli.js';
import { liminalProcess } from './support/demoRun.js';

const dir = mkdtempSync(join(tmpdir(), 'liminal-cli-bad-'));
const notADatabase = join(dir, 'notes.db');
writeFileSync(notADatabase, 'these are not the bytes of a SQLite database, just some notes\n'.repeat(20));

/** One clear line on stderr, exit code 2, no stack trace, nothing on stdout. */
function expectBadInput(result: { code: number; stdout: string; stderr: string }, mentions: string | RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^liminal: /);
  expect(lines[0]).toMatch(mentions);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('the liminal process on bad input', () => {
  it('an unknown command, an unknown option and a missing argument exit 2 with one line', async () => {
    expectBadInput(await liminalProcess(['frobnicate']), /unknown command 'frobnicate'/);
    expectBadInput(await liminalProcess(['channels', '--bogus']), /unknown option '--bogus'/);
    expectBadInput(await liminalProcess(['show']), /missing required argument 'id'/);
  }, 60_000);

  it('bad values exit 2 before the store is opened', async () => {
    expectBadInput(await liminalProcess(['conversations', '--stuck', 'soon', '--store', notADatabase]), /--stuck "soon" is not a duration/);
    expectBadInput(await liminalProcess(['conversations', '--limit', '-3', '--store', notADatabase]), /--limit/);
    expectBadInput(await liminalProcess(['console', '--port', '99999', '--store', notADatabase]), /port/);
  }, 60_000);

  it('a store that does not exist, is not a database or does not answer exits 2 with one line', async () => {
    expectBadInput(await liminalProcess(['channels', '--store', join(dir, 'missing.db')]), /does not exist/);
    expectBadInput(await liminalProcess(['channels', '--store', notADatabase]), /cannot be read|not a database/);
    expectBadInput(await liminalProcess(['channels', '--store', 'mysql://somewhere/db']), /expected sqlite:<file>/);
    expectBadInput(await liminalProcess(['channels', '--store', 'postgres://postgres@127.0.0.1:1/none']), /cannot be read/);
  }, 60_000);

  it('--help works on every command and exits 0 (in process)', async () => {
    for (const command of ['channels', 'lag', 'groups', 'claims', 'conversations', 'show', 'console']) {
      const result = await liminal([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: liminal ${command}`);
      expect(result.stdout).toContain('--store <url>');
      expect(result.stdout).toContain('--json');
    }
  });
});
