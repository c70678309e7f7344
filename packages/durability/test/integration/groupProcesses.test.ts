import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore, type DurableStore } from '@liminal/store';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableChannel, readGroup, readChannel } from '../../src/index.js';
import { processBackends, type Backend } from './backends.js';
import { sourceNodeArgs } from '@liminal/testkit';

/**
 * Independent member processes (as pods: no shared parent logic, each only
 * joins) on one 8-partition channel. The parent publishes, kills, stops and
 * resumes them, and checks the store: every job's `done/<job>` counter must
 * end at exactly 1 and every cursor at the end of its partition.
 */
const workerFile = fileURLToPath(new URL('./workers/groupMember.ts', import.meta.url));
const PARTITIONS = 8;

interface Event {
  readonly memberId: string;
  readonly ev: 'ready' | 'assigned' | 'revoked' | 'lost' | 'left';
  readonly partitions?: number[];
  readonly partition?: number;
  readonly incarnation?: number;
  readonly code?: string;
  readonly at: number;
}

class MemberProcess {
  readonly child: ChildProcess;
  readonly events: Event[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(
    url: string,
    readonly memberId: string,
    options: object,
    delayMs: number,
  ) {
    this.child = spawn(process.execPath, [...sourceNodeArgs, workerFile, url, memberId, JSON.stringify(options), String(delayMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        this.events.push({ ...(JSON.parse(buffered.slice(0, nl)) as Event), at: performance.now() });
        buffered = buffered.slice(nl + 1);
      }
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Partitions held now, from the process's own assigned/revoked reports. */
  held(): Set<number> {
    const held = new Set<number>();
    for (const event of this.events) {
      if (event.ev === 'ready' || event.ev === 'assigned') for (const p of event.partitions ?? []) held.add(p);
      if (event.ev === 'revoked') for (const p of event.partitions ?? []) held.delete(p);
      if (event.ev === 'lost' && event.partition !== undefined) held.delete(event.partition);
    }
    return held;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

const running: MemberProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const member of running.splice(0)) {
    member.signal('SIGCONT');
    member.signal('SIGKILL');
    await member.exited;
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; member stderr: ${running.map((m) => m.stderr).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const { sqlite, postgres } = processBackends(cleanups);

async function setUp(backend: Backend) {
  const url = await backend.url();
  const store = await openStore(url);
  cleanups.push(() => store.close());
  const channel = new DurableChannel(store, 'work', { partitions: PARTITIONS });
  return { url, store, channel };
}

/** Publishes jobs `job-0` … `job-<jobs - 1>`, keyed by themselves. */
async function publish(channel: DurableChannel, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i++) await channel.publish(new TextEncoder().encode(`job-${i}`), { key: `job-${i}` });
}

function start(url: string, memberId: string, options: object, delayMs: number): MemberProcess {
  const member = new MemberProcess(url, memberId, options, delayMs);
  running.push(member);
  return member;
}

async function cursors(channel: DurableChannel): Promise<number[]> {
  return Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => (await channel.consume('jobs', p)).cursor.currentOffset));
}

async function processed(channel: DurableChannel): Promise<number> {
  return (await cursors(channel)).reduce((a, b) => a + b, 0);
}

/** Every job applied exactly once: the counts of `done/<job>` values. */
async function appliedCounts(store: DurableStore, jobs: number): Promise<Map<number, number>> {
  const tally = new Map<number, number>();
  for (let i = 0; i < jobs; i++) {
    const value = (await store.readValue(`done/job-${i}`)) ?? 0;
    tally.set(value, (tally.get(value) ?? 0) + 1);
  }
  return tally;
}

const lease = { leaseMs: 3_000, heartbeatMs: 500 }; // pollMs stays 30 s: messages and hand-overs arrive through watch
const backends = [...(postgres === undefined ? [] : [postgres]), sqlite];

describe.each(backends)('worker group processes on $name', (backend) => {
  it('3 members, 800 jobs, one SIGKILLed mid-run: all done, none twice, its partitions taken over', { timeout: 180_000 }, async () => {
    const jobs = 800;
    const { url, store, channel } = await setUp(backend);
    const members = ['a', 'b', 'c'].map((id) => start(url, id, lease, 5));
    await until(() => members.every((m) => m.held().size >= 2) && members.reduce((n, m) => n + m.held().size, 0) === PARTITIONS, 'a 3/3/2 split');
    const publishing = publish(channel, jobs);
    await until(async () => (await processed(channel)) >= jobs / 4, 'a quarter of the jobs');
    const victim = members[1] as MemberProcess;
    const orphaned = [...victim.held()];
    const killedAt = performance.now();
    victim.signal('SIGKILL');
    await victim.exited;
    // Read after the exit: a commit the victim had in flight when it was killed is not a takeover.
    const before = await cursors(channel);
    let failoverMs: number | undefined;
    await until(async () => {
      const now = await cursors(channel);
      if (failoverMs === undefined && orphaned.some((p) => (now[p] as number) > (before[p] as number))) failoverMs = performance.now() - killedAt;
      return now.reduce((a, b) => a + b, 0) === jobs;
    }, 'every job');
    await publishing;
    const survivors = members.filter((m) => m !== victim);
    await until(() => orphaned.every((p) => survivors.some((m) => m.held().has(p))), 'the survivors hold the dead member’s partitions');
    expect(failoverMs).toBeDefined(); // jobs were left on its partitions, and others processed them
    expect(await appliedCounts(store, jobs)).toEqual(new Map([[1, jobs]]));
    console.log(`[${backend.name}] kill -9 of a member holding ${orphaned.length} partitions: first job on them by another member after ${Math.round(failoverMs ?? Number.NaN)} ms (lease ${lease.leaseMs} ms)`);
  });

  it('a graceful leave (SIGTERM → leave()) hands its partitions over without waiting for the lease', { timeout: 180_000 }, async () => {
    const jobs = 200;
    const { url, store, channel } = await setUp(backend);
    const longLease = { leaseMs: 120_000, heartbeatMs: 1_000 };
    const members = ['a', 'b'].map((id) => start(url, id, longLease, 5));
    await until(() => members.every((m) => m.held().size === 4), 'a 4/4 split');
    await publish(channel, jobs);
    const leaving = members[0] as MemberProcess;
    const startedAt = performance.now();
    leaving.signal('SIGTERM');
    expect(await leaving.exited).toBe(0);
    await until(() => (members[1] as MemberProcess).held().size === PARTITIONS, 'the other member holds all 8');
    const handOverMs = performance.now() - startedAt;
    expect(handOverMs).toBeLessThan(longLease.leaseMs); // only the hand-over, not the expiry, can explain it
    await until(async () => (await processed(channel)) === jobs, 'every job');
    expect(await appliedCounts(store, jobs)).toEqual(new Map([[1, jobs]]));
  });
});

describe.each(postgres === undefined ? [sqlite] : [postgres])('membership changes while the log is compacted, on $name', (backend) => {
  it('members join and leave in waves, compacting every few records: no change lost (nobody rejoins, no ghost keeps partitions), every job once', { timeout: 180_000 }, async () => {
    const jobs = 200;
    const { url, store, channel } = await setUp(backend);
    // A lease no test run outlives: a lost leave or join could not be healed by expiry, it would show.
    const options = { leaseMs: 300_000, heartbeatMs: 1_000, compactAfter: 3 };
    const stayers = ['a', 'b'].map((id) => start(url, id, options, 2));
    await until(() => stayers.every((m) => m.held().size === 4), 'a 4/4 split');
    const publishing = publish(channel, jobs);
    for (let wave = 0; wave < 2; wave++) {
      const comers = [`c${wave}`, `d${wave}`].map((id) => start(url, id, options, 2));
      await until(() => comers.every((m) => m.held().size === 2), `wave ${wave} gets its share`);
      for (const comer of comers) comer.signal('SIGTERM');
      for (const comer of comers) expect(await comer.exited).toBe(0);
    }
    await publishing;
    await until(() => stayers.every((m) => m.held().size === 4), 'a and b hold all 8 again');
    await until(async () => (await processed(channel)) === jobs, 'every job');
    expect(await appliedCounts(store, jobs)).toEqual(new Map([[1, jobs]]));
    const info = await readGroup(store, (await readChannel(store, 'work'))!, 'jobs');
    expect(info.logCompactions).toBeGreaterThan(0);
    const joinedAs = stayers.map((m) => [m.events.find((e) => e.ev === 'ready')?.incarnation, m.memberId, 4]);
    expect(info.members.map((m) => [m.incarnation, m.memberId, m.assigned.length])).toEqual(joinedAs.sort((x, y) => Number(x[0]) - Number(y[0])));
    expect(info.partitions.map((p) => p.holderId).sort()).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b']);
    console.log(`[${backend.name}] 4 members joined and left in 2 waves: ${info.logLength} log records, compacted ${info.logCompactions} times (every ${options.compactAfter} records)`);
  });
});

describe.each(postgres === undefined ? [sqlite] : [postgres])('a zombie member on $name', (backend) => {
  it('SIGSTOPped past its lease then SIGCONTed: it writes nothing, and its partitions are processed once by the new owner', { timeout: 180_000 }, async () => {
    const jobs = 300;
    const { url, store, channel } = await setUp(backend);
    const members = ['a', 'b', 'z'].map((id) => start(url, id, lease, 10));
    const zombie = members[2] as MemberProcess;
    await until(() => members.every((m) => m.held().size >= 2), 'a 3/3/2 split');
    await publish(channel, jobs);
    await until(async () => (await processed(channel)) >= 30, 'some jobs');
    const orphaned = [...zombie.held()];
    zombie.signal('SIGSTOP');
    const others = members.slice(0, 2);
    await until(() => orphaned.every((p) => others.some((m) => m.held().has(p))), 'the others take the stopped member’s partitions');
    const eventsBeforeResume = zombie.events.length;
    zombie.signal('SIGCONT');
    await until(async () => (await processed(channel)) === jobs, 'every job');
    // The zombie noticed: it lost a lease at its next commit, or dropped its partitions when it read its own expiry.
    await until(() => zombie.events.slice(eventsBeforeResume).some((e) => e.ev === 'lost' || e.ev === 'revoked'), 'the zombie noticing');
    expect(await appliedCounts(store, jobs)).toEqual(new Map([[1, jobs]]));
    const lost = zombie.events.filter((e) => e.ev === 'lost');
    for (const event of lost) expect(event.code).toBe('LEASE_LOST');
    console.log(`[${backend.name}] zombie resumed: ${lost.length} commit(s) refused with LEASE_LOST, every job applied once`);
  });
});
