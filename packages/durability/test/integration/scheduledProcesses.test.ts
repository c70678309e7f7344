import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type DurableStore } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableChannel } from '../../src/index.js';
import { processBackends } from './backends.js';
import { sourceNodeArgs } from '@liminal/testkit';

/**
 * A scheduled message across a kill -9 of the only consumer process: the
 * consumer (a worker group member, its wall clock read from a file the test
 * writes) is killed while it waits for the message's time, the time passes
 * while no process runs, and a restarted consumer delivers it exactly once.
 */
const workerFile = fileURLToPath(new URL('./workers/scheduledMember.ts', import.meta.url));

interface Line {
  readonly ev: string;
  readonly payload?: string;
  readonly at?: number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A running member process and the lines it printed so far. */
function member(url: string, timeFile: string): { child: ChildProcess; lines: Line[]; next: (ev: string, payload?: string) => Promise<Line> } {
  const child = spawn(process.execPath, [...sourceNodeArgs, workerFile, url, timeFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(async () => void child.kill('SIGKILL'));
  const lines: Line[] = [];
  let buffered = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, end)) as Line);
      buffered = buffered.slice(end + 1);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const next = async (ev: string, payload?: string): Promise<Line> => {
    const deadline = Date.now() + 30_000; // a hang guard only
    for (;;) {
      const found = lines.find((line) => line.ev === ev && (payload === undefined || line.payload === payload));
      if (found !== undefined) return found;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${ev} ${payload ?? ''} from the member; stderr: ${stderr}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { child, lines, next };
}

/** The payloads of the effects committed so far, waiting until there are `count` (a handler prints before its commit). */
async function effects(store: DurableStore, count: number): Promise<string[]> {
  const deadline = Date.now() + 30_000; // a hang guard only
  for (;;) {
    const entries = await store.readFrom('effects', 0, 100);
    if (entries.length >= count || Date.now() > deadline) return entries.map(({ payload }) => new TextDecoder().decode(payload).split('@')[0]!);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const { sqlite, postgres } = processBackends(cleanups);

describe.each([sqlite, ...(postgres === undefined ? [] : [postgres])])('a scheduled message across kill -9 of its consumer on $name', (backend) => {
  it('published with deliverAt, the consumer killed while waiting for it, the time passed, a restarted consumer delivers it once after deliverAt', async () => {
    const url = await backend.url();
    const directory = mkdtempSync(join(tmpdir(), 'liminal-schedule-'));
    cleanups.push(async () => rmSync(directory, { recursive: true, force: true }));
    const timeFile = join(directory, 'now');
    const start = 1_000_000;
    writeFileSync(timeFile, String(start));
    const store = await openStore(url);
    cleanups.push(() => store.close());
    const channel = new DurableChannel(store, 'reminders', { partitions: 1 });
    await channel.publish(new TextEncoder().encode('pay rent'), { key: 'flat-1', deliverAt: start + 10_000, nowMs: start });

    const first = member(url, timeFile);
    await first.next('ready');
    // A due message on the same partition: once it is delivered, the member has read the partition with the scheduled one not due.
    await channel.publish(new TextEncoder().encode('charge'), { key: 'flat-2', nowMs: start });
    await first.next('delivered', 'charge');
    writeFileSync(timeFile, String(start + 9_999));
    await channel.publish(new TextEncoder().encode('charge again'), { key: 'flat-2', nowMs: start + 9_999 });
    await first.next('delivered', 'charge again');
    expect(await effects(store, 2)).toEqual(['charge', 'charge again']);
    await killed(first.child);
    expect(first.lines.filter((line) => line.payload === 'pay rent')).toEqual([]);

    writeFileSync(timeFile, String(start + 10_000)); // due while no consumer runs
    const second = member(url, timeFile);
    const delivered = await second.next('delivered', 'pay rent');
    expect(delivered.at).toBeGreaterThanOrEqual(start + 10_000);
    expect(await effects(store, 3)).toEqual(['charge', 'charge again', 'pay rent']);
    await killed(second.child);

    // A third incarnation after the delivery: it must not deliver the message again.
    const third = member(url, timeFile);
    await third.next('ready');
    await channel.publish(new TextEncoder().encode('marker'), { key: 'flat-3', nowMs: start + 10_000 });
    await third.next('delivered', 'marker');
    expect(await effects(store, 4)).toEqual(['charge', 'charge again', 'pay rent', 'marker']);
    await killed(third.child);
    expect(third.lines.filter((line) => line.payload === 'pay rent')).toEqual([]);
  }, 120_000);
});
