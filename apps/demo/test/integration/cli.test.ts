import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'liminal-demo-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectOneLineUsageError(result: CliResult, mentions: RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^liminal-demo: /);
  expect(lines[0]).toMatch(mentions);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('demo CLI bad input: one line on stderr, exit code 2, nothing written', () => {
  const fresh = join(dir, 'never-created.db');

  it('--help lists every option and the verify subcommand', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const option of ['--store', '--messages', '--partitions', '--workers', '--crash-rate', '--seed', '--rate', '--reset', 'verify']) {
      expect(result.stdout).toContain(option);
    }
  });

  it('rejects an unknown flag', async () => {
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--mesages', '10']), /unknown option '--mesages'/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('rejects --messages -3', async () => {
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--messages', '-3']), /--messages.*-3/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('rejects a crash rate of 1 (no order could ever finish)', async () => {
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--crash-rate', '1']), /--crash-rate/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('rejects a publish rate of 0 or a fraction', async () => {
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--rate', '0']), /--rate.*0/);
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--rate', '2.5']), /--rate.*2\.5/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('rejects more workers than partitions', async () => {
    expectOneLineUsageError(await runCli(['--store', `sqlite:${fresh}`, '--workers', '5', '--partitions', '4']), /--workers 5/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('rejects an unreachable PostgreSQL URL', async () => {
    expectOneLineUsageError(await runCli(['--store', 'postgres://nobody@127.0.0.1:1/nothing', '--messages', '10']), /PostgreSQL.*ECONNREFUSED/);
  });

  it('rejects a file that is not a database and leaves it untouched', async () => {
    const notes = join(dir, 'notes.txt');
    const content = 'these are my notes, not a database\n'.repeat(100);
    writeFileSync(notes, content);
    expectOneLineUsageError(await runCli(['--store', notes, '--messages', '10']), /not a database/);
    expect(readFileSync(notes, 'utf8')).toBe(content);
    expect(existsSync(`${notes}-wal`)).toBe(false);
  });

  it('verify on a store that was never used says so without creating it', async () => {
    expectOneLineUsageError(await runCli(['verify', '--store', `sqlite:${fresh}`]), /does not exist/);
    expect(existsSync(fresh)).toBe(false);
  });
});
