import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableConversation } from '@liminal/durability';
import { SqliteStore } from '@liminal/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sourceNodeArgs } from '@liminal/testkit';

const fixture = fileURLToPath(new URL('./fixtures/durableWorker.ts', import.meta.url));
const compensatingFixture = fileURLToPath(new URL('./fixtures/compensatingWorker.ts', import.meta.url));

function runWorker(path: string, messages: string[], env: Record<string, string> = {}, file = fixture) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeArgs, file, path, ...messages], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('durable conversation across a process restart', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'liminal-actors-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('a process killed mid-message resumes in a new process and runs every step exactly once', async () => {
    const path = join(directory, 'orders.db');
    const messages = ['m1', 'm2', 'm3'];

    const crashed = await runWorker(path, messages, { CRASH_AT: 'm2:ship' });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    expect(crashed.stdout).toBe('');

    const store = new SqliteStore(path);
    try {
      // What the killed process left behind: m1 finished, m2 two steps in.
      const log = await DurableConversation.recover(store, 'orders');
      expect(log.state.isFullyProcessed('m1')).toBe(true);
      expect(log.state.redeliveryDecision('m2')).toEqual({ kind: 'resumeFrom', step: 2 });
      expect(await store.readValue('effect:m2:ship')).toBeUndefined();
    } finally {
      await store.close();
    }

    const resumed = await runWorker(path, messages);
    expect(resumed.code, resumed.stderr).toBe(0);
    // The log comes back with the reopened conversation (m1's reply from the first process); the reopen
    // resumed m2 (reusing its recorded outputs) and m3, which waited behind it, before the re-sent m1
    // is answered with its recorded reply (nothing runs); the re-sent m2 and m3 join their running turns.
    expect(JSON.parse(resumed.stdout)).toEqual({ replies: ['m1=1,1,1', 'm2=1,1,1', 'm3=1,1,1', 'm1=1,1,1'] });

    const after = new SqliteStore(path);
    try {
      for (const message of messages) {
        for (const step of ['reserve', 'charge', 'ship']) expect(await after.readValue(`effect:${message}:${step}`), `${message}:${step}`).toBe(1);
      }
      const log = await DurableConversation.recover(after, 'orders');
      for (const message of messages) expect(log.state.isFullyProcessed(message)).toBe(true);
    } finally {
      await after.close();
    }
  });

  it('a process killed in the middle of compensating resumes the remaining compensations in a new process, each at most once, and reports the interrupted one', async () => {
    const path = join(directory, 'saga.db');
    const orders = ['o1', 'o2!'];

    // o1 completes; o2! crashes after charging; the process dies inside o2!'s refund (after its effect).
    const killed = await runWorker(path, orders, { KILL_IN: 'refund:o2!' }, compensatingFixture);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');

    const resumed = await runWorker(path, orders, {}, compensatingFixture);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as { replies: string[]; failure: string; compensations: string[] };
    expect(report.failure).toBe('compensated');
    // Newest first. The refund that was running when the process died is not run
    // again (at most once) and is reported: whether it happened must be checked.
    expect(report.compensations).toEqual(['interrupted charge o2!', 'ok reserve o2!', 'ok charge o1', 'ok reserve o1']);
    expect(report.replies).toEqual([]);

    // A third process finds the same outcome and runs nothing.
    const again = await runWorker(path, orders, {}, compensatingFixture);
    expect(JSON.parse(again.stdout)).toEqual(report);

    const store = new SqliteStore(path);
    try {
      for (const key of ['reserve:o1', 'charge:o1', 'reserve:o2!', 'charge:o2!', 'refund:o2!', 'release:o2!', 'refund:o1', 'release:o1']) {
        expect(await store.readValue(key), key).toBe(1);
      }
    } finally {
      await store.close();
    }
  });
});
