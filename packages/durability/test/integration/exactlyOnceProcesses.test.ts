import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore, type DurableStore } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { cursorKeyFor, DurableChannel } from '../../src/index.js';
import { claimedKeys } from '../support/stores.js';
import { processBackends, type Backend } from './backends.js';
import { sourceNodeArgs } from '@liminal/testkit';

/**
 * Separate consumer processes on ONE partition under one consumer id, each
 * message's effect written through `processOnce`'s EffectTx: the effects
 * stream must end with exactly one entry per message, whatever the processes
 * did (competed, outlived their leases, were SIGKILLed at any point).
 */
const workerFile = fileURLToPath(new URL('./workers/onceConsumer.ts', import.meta.url));

interface Counts {
  readonly owner: string;
  readonly processed: number;
  readonly duplicate: number;
  readonly inFlight: number;
  readonly claimLost: number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs one consumer process to its end; `code` is null when it was killed. */
function consumer(url: string, owner: string, settings: object): Promise<{ code: number | null; signal: string | null; counts?: Counts; stderr: string }> {
  const child = spawn(process.execPath, [...sourceNodeArgs, workerFile, url, owner, JSON.stringify(settings)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, ...(stdout.trim() === '' ? {} : { counts: JSON.parse(stdout.trim()) as Counts }) })),
  );
}

const { sqlite, postgres } = processBackends(cleanups);
const backends = [sqlite, ...(postgres === undefined ? [] : [postgres])];

async function setUp(backend: Backend, messages: number): Promise<{ url: string; store: DurableStore; ids: string[] }> {
  const url = await backend.url();
  const store = await openStore(url);
  cleanups.push(() => store.close());
  const channel = new DurableChannel(store, 'orders', { partitions: 1 });
  const results = await Promise.all(Array.from({ length: messages }, (_, n) => channel.publish(new TextEncoder().encode(`order ${n}`), { key: 'k' })));
  return { url, store, ids: results.map((r) => r.messageId) };
}

/** messageId → how many effects the store holds for it. */
async function effectCounts(store: DurableStore): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { payload } of await store.readFrom('effects', 0, 100_000)) {
    const id = new TextDecoder().decode(payload).split('@')[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function expectExactlyOnce(counts: Map<string, number>, ids: readonly string[]): void {
  expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
  expect([...counts.keys()].sort()).toEqual([...ids].sort());
}

describe.each(backends)('exactly-once effects across consumer processes on $name', (backend) => {
  it.each([2, 4])(
    '%i processes on one partition, some handlers sleeping past their lease: each of 200 effects exactly once',
    async (processes) => {
      const { url, store, ids } = await setUp(backend, 200);
      const leaseMs = 150;
      // Every 10th message is slow (3 × lease) in exactly one process, so others take it over while it sleeps.
      const runs = await Promise.all(
        Array.from({ length: processes }, (_, i) => consumer(url, `proc-${i}`, { total: 200, processes, leaseMs, slowEvery: 10 * processes, slowRemainder: 10 * i })),
      );
      for (const run of runs) expect(run.code, run.stderr).toBe(0);
      expectExactlyOnce(await effectCounts(store), ids);
      expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBe(200);
      const total = (key: keyof Omit<Counts, 'owner'>) => runs.reduce((sum, run) => sum + (run.counts?.[key] ?? 0), 0);
      if (process.env['LIMINAL_REPORT']) console.log(JSON.stringify(runs.map((run) => run.counts)));
      expect(total('processed')).toBe(200); // one commit per message, whoever made it
      expect(total('claimLost')).toBeGreaterThan(0); // slow handlers were taken over and fenced
      expect(total('inFlight')).toBeGreaterThan(0); // processes really competed for the same messages
    },
    120_000,
  );

  it('one consumer SIGKILLed 8 times (twice each before, inside and after its handler, and at its commit) over 400 messages: each effect exactly once', async () => {
    const { url, store, ids } = await setUp(backend, 400);
    const points = ['beforeHandler', 'insideHandler', 'atCommit', 'afterCommit'] as const;
    // Every kill point twice (the second time in a process that recovers from an earlier kill), at kill offsets
    // spread over the run, each pseudo-random within its 50 messages (a fixed seed keeps the run reproducible).
    let seed = 12;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const kills = Array.from({ length: 8 }, (_, i) => ({ offset: i * 50 + Math.floor(random() * 50), at: points[i % points.length]! }));
    let killed = 0;
    for (const kill of kills) {
      const run = await consumer(url, 'billing-worker', { total: 400, leaseMs: 30_000, kill });
      expect(run.signal, run.stderr).toBe('SIGKILL');
      killed += 1;
    }
    const last = await consumer(url, 'billing-worker', { total: 400, leaseMs: 30_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(killed).toBe(8);
    expectExactlyOnce(await effectCounts(store), ids);
    expect(await store.readValue(cursorKeyFor('billing', 'orders', 0))).toBe(400);
    // Nothing needed settling by hand: every message has its receipt, no claim is left.
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const probe = await channel.consume('billing', 0);
    for (const id of [ids[0]!, ids[199]!, ids[399]!]) expect((await probe.processed.lookup(id))?.kind).toBe('completed');
    expect(await claimedKeys(store, probe.processed.namespace)).toEqual([]);
  }, 180_000);
});
