import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { finished, runCli, startCli } from './runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'liminal-demo-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rowValue = (stdout: string, label: string) => new RegExp(`│ ${label}\\s*│ (\\S+)`).exec(stdout)?.[1];

describe('the demo end to end (SQLite, worker processes)', () => {
  it('processes every order, prints the summary and the supervision tree, and verify agrees', async () => {
    const store = `sqlite:${join(dir, 'small.db')}`;
    const run = await runCli(['--store', store, '--messages', '200', '--partitions', '3', '--workers', '2', '--crash-rate', '0.1', '--seed', '3']);
    expect(run.stderr).not.toMatch(/giving up|failed/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^progress \d+\/200 orders/m); // plain lines, stdout is not a TTY
    expect(rowValue(run.stdout, 'messages \\(orders\\)')).toBe('200');
    expect(rowValue(run.stdout, 'lost \\(ledger read back\\)')).toBe('0');
    expect(rowValue(run.stdout, 'duplicated effects')).toBe('0');
    expect(Number(rowValue(run.stdout, 'crashes injected'))).toBeGreaterThan(0);
    expect(Number(rowValue(run.stdout, 'compensations'))).toBeGreaterThan(0);
    expect(run.stdout).toContain('coordinator (oneForOne');
    expect(run.stdout).toMatch(/worker 1 .*worker group/);

    const verify = await runCli(['verify', '--store', store]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('200/200 orders finished');
    expect(verify.stdout).toContain('lost: 0, duplicated: 0');
  }, 180_000); // a full demo run in child processes, sized for a loaded 2-core machine

  it('after kill -9 of the whole demo it resumes where it stopped, and refuses different settings meanwhile', async () => {
    const store = `sqlite:${join(dir, 'killed.db')}`;
    const args = ['--store', store, '--messages', '600', '--partitions', '2', '--workers', '2', '--seed', '9'];
    const child = startCli(args);
    const result = finished(child);
    // Kill coordinator and workers together once some orders are done but not all.
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const progress = /progress (\d+)\/600/.exec(chunk.toString());
        if (progress && Number(progress[1]) > 0 && Number(progress[1]) < 600) resolve();
      });
    });
    process.kill(-child.pid!, 'SIGKILL');
    await result;

    const midway = await runCli(['verify', '--store', store]);
    expect(midway.stdout).toContain('lost: 0, duplicated: 0');
    expect(midway.code).toBe(3); // clean, but unfinished

    const conflicting = await runCli(['--store', store, '--messages', '700']);
    expect(conflicting.code).toBe(2);
    expect(conflicting.stderr).toMatch(/unfinished run 1 with --messages 600/);

    const resumed = await runCli(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('resuming run 1');
    expect(rowValue(resumed.stdout, 'lost \\(ledger read back\\)')).toBe('0');
    const verify = await runCli(['verify', '--store', store]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('600/600 orders finished');
    // Two runs of 600 orders, plus the resumed workers waiting out the killed ones' leases, on a loaded machine.
  }, 180_000);

  it('Ctrl-C stops the coordinator and its workers cleanly (exit 130), and the run stays resumable', async () => {
    const store = `sqlite:${join(dir, 'interrupted.db')}`;
    const child = startCli(['--store', store, '--messages', '600', '--partitions', '2', '--workers', '2']);
    const result = finished(child);
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const progress = /progress (\d+)\/600/.exec(chunk.toString());
        if (progress && Number(progress[1]) > 0 && Number(progress[1]) < 600) resolve();
      });
    });
    process.kill(-child.pid!, 'SIGINT'); // what the terminal sends to the whole foreground group
    const interrupted = await result;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toMatch(/interrupted at \d+\/600 orders; run the same command again to resume run 1/);
    const verify = await runCli(['verify', '--store', store]);
    expect(verify.code).toBe(3);
    expect(verify.stdout).toContain('lost: 0, duplicated: 0');
  }, 180_000); // a demo run interrupted by SIGINT, sized for a loaded 2-core machine
});

