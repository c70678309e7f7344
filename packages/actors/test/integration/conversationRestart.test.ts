import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableConversation } from '@liminal/durability';
import { SqliteStore } from '@liminal/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeStepRecord } from '../../src/internal/stepRecord.js';
import { sourceNodeArgs } from '@liminal/testkit';

const fixture = fileURLToPath(new URL('./fixtures/conversationProcess.ts', import.meta.url));
// Process tests on a shared 2-core machine: generous, never a timing assertion of their own.
const PROCESS_TEST_MS = 120_000;

function start(scenario: string, db: string, out: string, env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [...sourceNodeArgs, fixture, scenario, db, out], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exited };
}

async function run(scenario: string, db: string, out: string, env: Record<string, string> = {}) {
  const result = await start(scenario, db, out, env).exited;
  return { ...result, out: existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>) : undefined };
}

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 1200 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(existsSync(path), path).toBe(true);
}

describe('durable conversations across kill -9 (separate processes, SQLite)', () => {
  let directory: string;
  let db: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'liminal-conversation-'));
    db = join(directory, 'orders.db');
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });
  const out = (name: string) => join(directory, `${name}.json`);

  it('killed before a step: the reopened state equals the state before the kill, and the reopen resumes the message at that step by itself', { timeout: PROCESS_TEST_MS }, async () => {
    const killed = await run('steps', db, out('killed'), { KILL_IN: 'charge' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(killed.out!['before']).toMatchObject({ phase: 'active', log: [{ kind: 'sent' }] });
    // Nobody sends o1 again: the reopened conversation runs it, reserve replayed, not run.
    const reopened = await run('resume', db, out('reopened'), { EXPECT: '1' });
    expect(reopened.code, reopened.stderr).toBe(0);
    expect(reopened.out).toMatchObject({ opened: killed.out!['before'], replies: ['o1=v1: o1'], effects: ['o1:charge', 'o1:ship'], inFlight: 0 });
    // Asked again later: answered from the log, nothing runs.
    const again = await run('resume', db, out('again'), { ASK: 'o1' });
    expect(again.out).toMatchObject({ asked: 'v1: o1', effects: [] });
  });

  it('killed while messages wait behind a turn: the reopen answers every message exactly once, without anyone sending them again', { timeout: PROCESS_TEST_MS }, async () => {
    const killed = await run('queued', db, out('killed'), { PLAN: 'reserve,charge', KILL_IN: 'charge', KILL_MESSAGE: 'm1' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const before = killed.out!['before'] as { log: { kind: string }[] };
    expect(before.log.filter((entry) => entry.kind === 'sent')).toHaveLength(5);
    const reopened = await run('resume', db, out('reopened'), { PLAN: 'reserve,charge', EXPECT: '5' });
    expect(reopened.code, reopened.stderr).toBe(0);
    const { opened, replies, effects, inFlight } = reopened.out as { opened: unknown; replies: string[]; effects: string[]; inFlight: number };
    expect(opened).toEqual(killed.out!['before']);
    // In arrival order, each once; m1 resumed after its recorded reserve (the killed run did that one).
    expect(replies).toEqual(['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => `${id}=v1: ${id}`));
    expect(effects).toEqual(['m1:charge', ...['m2', 'm3', 'm4', 'm5'].flatMap((id) => [`${id}:reserve`, `${id}:charge`])]);
    expect(inFlight).toBe(0);
    // A third process finds nothing left to do, and a re-sent message is answered from the log.
    const third = await run('resume', db, out('third'), { PLAN: 'reserve,charge', ASK: 'm3' });
    expect(third.out).toMatchObject({ replies: [], asked: 'v1: m3', effects: [], inFlight: 0 });
  });

  it('killed while closing: reopened in completing it resumes the unfinished message, answers re-sent asks, and closes', { timeout: PROCESS_TEST_MS }, async () => {
    const killed = await run('closing', db, out('killed'), { KILL_IN: 'charge', KILL_MESSAGE: 'm2' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(killed.out!['before']).toMatchObject({ phase: 'completing' });
    // The application re-asks both (m1 finished before the kill, m2 did not): before the fix, no ask in completing was ever answered.
    const reopened = await run('reask', db, out('reopened'), { IDS: 'm1,m2' });
    expect(reopened.code, reopened.stderr).toBe(0);
    expect(reopened.out).toMatchObject({
      opened: killed.out!['before'],
      replies: ['v1: m1', 'v1: m2'],
      effects: ['m2:charge', 'm2:ship'],
      state: { phase: 'closed' },
    });
  });

  it('killed inside a 2 s sleep (after 1 s): the restarted process finishes against the recorded deadline, not a new one', { timeout: PROCESS_TEST_MS }, async () => {
    const first = start('steps', db, out('first'), { PLAN: 'reserve,sleep:cool-off,charge' });
    await waitForFile(`${out('first')}.sleeping`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const store = new SqliteStore(db);
    let wakeAt: number;
    try {
      const journal = await DurableConversation.recover(store, 'orders');
      const timer = decodeStepRecord(journal.state.stepOutput('o1', 1)!);
      if (timer.kind !== 'timer') throw new Error(`expected the timer at step 1, found ${timer.kind}`);
      wakeAt = timer.wakeAt;
      expect(journal.state.isFullyProcessed('o1')).toBe(false);
    } finally {
      await store.close();
    }

    const restarted = await run('steps', db, out('restarted'), { PLAN: 'reserve,sleep:cool-off,charge' });
    expect(restarted.code, restarted.stderr).toBe(0);
    const { finishedAt, openedAt, reply, ran } = restarted.out as { finishedAt: number; openedAt: number; reply: string; ran: string[] };
    expect(reply).toBe('v1: o1');
    expect(ran).toEqual(['charge']);
    // It woke at the recorded deadline (or at once if the restart came after it)
    // and finished within 1.3 s of it; a sleep restarted from zero would end 2 s after the reopen.
    const due = Math.max(wakeAt, openedAt);
    expect(finishedAt).toBeGreaterThanOrEqual(wakeAt);
    expect(finishedAt - due).toBeLessThan(1300);
    console.log(JSON.stringify({ timerAfterRestart: { lateByMs: finishedAt - wakeAt, afterDueMs: finishedAt - due, reopenedAfterDeadlineMs: openedAt - wakeAt } }));
  });

  it('killed after close: it reopens closed, equal to the state before the kill, and refuses new messages', { timeout: PROCESS_TEST_MS }, async () => {
    const killed = await run('close', db, out('killed'));
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const reopened = await run('inspect', db, out('reopened'));
    expect(reopened.out!['state']).toEqual(killed.out!['before']);
    expect(reopened.out).toMatchObject({ state: { phase: 'closed' }, send: 'CONVERSATION_CLOSED', ran: [] });
  });

  it('killed after a timeout failure: it reopens failed with reason timeout, equal to the state before the kill', { timeout: PROCESS_TEST_MS }, async () => {
    const killed = await run('timeout', db, out('killed'), { PLAN: 'reserve,sleep:forever', SLEEP_MS: '600000' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(killed.out!['before']).toMatchObject({ phase: 'failed', failure: { reason: 'timeout' } });
    const reopened = await run('inspect', db, out('reopened'));
    expect(reopened.out!['state']).toEqual(killed.out!['before']);
    expect(reopened.out).toMatchObject({ send: 'CONVERSATION_FAILED', ran: [] });
  });

  it('steps reordered, renamed, inserted or removed between two runs: NonDeterminismError, and no step function runs', { timeout: PROCESS_TEST_MS }, async () => {
    // Run 1 records reserve and charge, and dies inside ship.
    const killed = await run('steps', db, out('killed'), { KILL_IN: 'ship' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const cases = [
      ['reordered', 'charge,reserve,ship', 0, 'reserve', 'charge'],
      ['renamed', 'reserve,bill,ship', 1, 'charge', 'bill'],
      ['inserted', 'reserve,fraudCheck,charge,ship', 1, 'charge', 'fraudCheck'],
      ['removed', 'reserve,ship', 1, 'charge', 'ship'],
    ] as const;
    await Promise.all(
      cases.map(async ([name, changed, stepIndex, recorded, requested]) => {
        const copy = join(directory, `${name}.db`);
        // SQLite in WAL mode: the killed process's last writes are in the -wal file.
        for (const suffix of ['', '-wal', '-shm']) if (existsSync(db + suffix)) copyFileSync(db + suffix, copy + suffix);
        const deployed = await run('steps', copy, out(name), { PLAN: changed });
        expect(deployed.code, deployed.stderr).toBe(0);
        expect(deployed.out, name).toMatchObject({ error: { code: 'NON_DETERMINISM', stepIndex, recorded, requested }, ran: [], state: { phase: 'active' } });
        expect((deployed.out!['state'] as { failure?: unknown }).failure, name).toBeUndefined();
      }),
    );
    // The old definition still finishes it.
    const fixed = await run('steps', db, out('fixed'));
    expect(fixed.out).toMatchObject({ reply: 'v1: o1', ran: ['ship'] });
  });

  it('two versions side by side: 10 conversations started on v1 finish on v1 after a restart with v1+v2; new ones start on v2', { timeout: PROCESS_TEST_MS }, async () => {
    const old = Array.from({ length: 10 }, (_, i) => `old-${i}`);
    const first = start('versions', db, out('first'), { IDS: old.join(','), HOLD: '1' });
    for (const id of old) await waitForFile(`${out('first')}.${id}:m.held`);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const fresh = ['new-0', 'new-1', 'new-2'];
    const deployed = await run('versions', db, out('deployed'), { IDS: [...old, ...fresh].join(','), VERSIONS: 'v1,v2', CURRENT: 'v2' });
    expect(deployed.code, deployed.stderr).toBe(0);
    const { replies, ran } = deployed.out as { replies: string[]; ran: string[] };
    expect(replies).toEqual([...old.map((id) => `v1: ${id}`), ...fresh.map((id) => `v2: ${id}`)]);
    // The v1 ones resumed after their recorded reserve (hold ran again: it was in flight); v2 ones ran fraudCheck first.
    expect(ran.filter((step) => step === 'reserve')).toHaveLength(3);
    expect(ran.filter((step) => step === 'fraudCheck')).toHaveLength(3);
    expect(ran.filter((step) => step === 'charge')).toHaveLength(13);
  });
});
