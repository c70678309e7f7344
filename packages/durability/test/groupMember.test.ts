import { ConfigError, MemoryStore, StoreUnavailableError, type DurableStore } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cursorKeyFor, DurableChannel, LeaseLostError, listGroups, MessageFailedError, readChannel, type ChannelEnvelope, type GroupMember, type JoinOptions } from '../src/index.js';
import { codec } from '../src/codec.js';
import { bytes, CountingStore, text } from './support/stores.js';

/** Long leases: in these tests a member only dies when the test says so (through its clock). */
const quick: JoinOptions = { leaseMs: 60_000, heartbeatMs: 50, pollMs: 60_000 }; // no fallback poll: every wake-up comes from watch

const members: GroupMember[] = [];
afterEach(async () => {
  await Promise.all(members.splice(0).map((member) => member.leave().catch(() => undefined)));
});

async function join(channel: DurableChannel, options: JoinOptions = {}): Promise<GroupMember> {
  const member = await channel.join('billing', { ...quick, ...options });
  members.push(member);
  return member;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const counts = (group: readonly GroupMember[]) => group.map((member) => member.assignment().length);
const owned = (group: readonly GroupMember[]) => group.flatMap((member) => member.assignment()).sort((a, b) => a - b);
const all = (partitions: number) => Array.from({ length: partitions }, (_, p) => p);

/**
 * A store whose calls from one member can be frozen, as if its process were
 * stopped (SIGSTOP), or fail, as if its server were down.
 */
type CommitOps = Parameters<DurableStore['commit']>[0];

/** A commit that frees a partition's lease (its holder back to 0). */
const freesALease = (ops: CommitOps) => ops.some((op) => op.op === 'cas' && op.key.includes('/holder/') && op.next === 0);

class FreezableStore extends ForwardingStore {
  #thaw: Promise<void> | undefined;
  #release: (() => void) | undefined;

  /** While true, every call fails with StoreUnavailableError (the server is restarting). */
  down = false;

  async #gate(): Promise<void> {
    await this.#thaw;
    if (this.down) throw new StoreUnavailableError('connection refused (test outage)');
  }

  freeze(): void {
    this.#thaw = new Promise((resolve) => (this.#release = resolve));
  }

  thaw(): void {
    this.#release?.();
    this.#thaw = undefined;
  }

  get frozen(): boolean {
    return this.#thaw !== undefined;
  }

  /** Heartbeat counters read through this store (a member reads its neighbour's once per beat). */
  heartbeatReads = 0;
  #freezeAfterRead = false;

  /** Freezes this store right after its next heartbeat read: its member has just seen its neighbour's counter. */
  freezeAfterNextHeartbeatRead(): void {
    this.#freezeAfterRead = true;
  }

  override async readValue(key: string) {
    await this.#gate();
    const value = await super.readValue(key);
    if (key.includes('/heartbeat/')) {
      this.heartbeatReads += 1;
      if (this.#freezeAfterRead) {
        this.#freezeAfterRead = false;
        this.freeze();
      }
    }
    return value;
  }

  override async cas(key: string, expected: number, next: number) {
    await this.#gate();
    return super.cas(key, expected, next);
  }

  #trap: { readonly matches: (ops: CommitOps) => boolean; readonly outcome: 'lost' | 'ambiguous' | 'frozen' } | undefined;
  trappedCommits = 0;

  /**
   * The next commit `matches` accepts fails with StoreUnavailableError as if
   * the connection dropped before it was written (`lost`) or after it landed
   * (`ambiguous`: the caller cannot tell which), or it lands and then
   * freezes this store (`frozen`: the next calls wait for `thaw`).
   */
  trapNextCommit(matches: (ops: CommitOps) => boolean, outcome: 'lost' | 'ambiguous' | 'frozen'): void {
    this.#trap = { matches, outcome };
  }

  override async commit(ops: CommitOps) {
    const trap = this.#trap;
    if (trap?.matches(ops)) {
      this.#trap = undefined;
      this.trappedCommits += 1;
      await this.#gate();
      if (trap.outcome === 'lost') throw new StoreUnavailableError('connection lost (test outage)');
      const result = await super.commit(ops);
      if (trap.outcome === 'frozen') {
        this.freeze();
        return result;
      }
      throw new StoreUnavailableError('connection lost (test outage)', { ambiguous: true });
    }
    await this.#gate();
    return super.commit(ops);
  }

  override async readFrom(stream: string, fromSeq: number, limit: number) {
    await this.#gate();
    return super.readFrom(stream, fromSeq, limit);
  }

  override async append(stream: string, payload: Uint8Array, expectedSeq: number) {
    await this.#gate();
    return super.append(stream, payload, expectedSeq);
  }
}

/** Counts reads of partition streams and listings of schedules (a poll's two reads). */
class PollCountingStore extends ForwardingStore {
  partitionReads = 0;
  scheduleScans = 0;

  override async readFrom(stream: string, fromSeq: number, limit: number) {
    if (stream.startsWith('partition/')) this.partitionReads += 1;
    return super.readFrom(stream, fromSeq, limit);
  }

  override async listStreams(prefix: string, options?: Parameters<DurableStore['listStreams']>[1]) {
    if (prefix.startsWith('scheduled/')) this.scheduleScans += 1;
    return super.listStreams(prefix, options);
  }
}

/** Two members of one group, each through its own FreezableStore, on one injected clock (lease 1000 ms, beat 50 ms), split 2/2. */
async function twoMembersOnAClock() {
  const inner = new MemoryStore();
  const [storeA, storeB] = [new FreezableStore(inner), new FreezableStore(inner)];
  const clock = { t: 0, now: () => clock.t };
  const options: JoinOptions = { clock, leaseMs: 1_000, heartbeatMs: 50 };
  const a = await join(new DurableChannel(storeA, 'orders', { partitions: 4 }), { ...options, memberId: 'a' });
  const b = await join(new DurableChannel(storeB, 'orders', { partitions: 4 }), { ...options, memberId: 'b' });
  await until(() => counts([a, b]).every((n) => n === 2), 'a 2/2 split');
  const revoked: number[] = [];
  for (const member of [a, b]) member.on('revoked', (partitions) => revoked.push(...partitions));
  return { inner, storeA, storeB, clock, a, b, revoked };
}

/** Nobody was declared expired: no memberLeft in the log, the same incarnations, nothing revoked, the split kept. */
async function expectNobodyExpired(inner: MemoryStore, group: readonly GroupMember[], incarnations: readonly number[], revoked: readonly number[]): Promise<void> {
  const log = await inner.readFrom('group/orders/billing/members', 0, 1_000);
  expect(log.map((entry) => codec.decode(entry.payload)).filter((record) => record.kind === 'memberLeft')).toEqual([]);
  expect(group.map((member) => member.incarnation)).toEqual(incarnations);
  expect(revoked).toEqual([]);
  expect(counts(group)).toEqual([2, 2]);
}

describe('worker groups (one process)', () => {
  it('spreads 8 partitions over 3 members as 3/3/2, and a join moves only what it must', async () => {
    const channel = new DurableChannel(new MemoryStore(), 'orders', { partitions: 8 });
    const a = await join(channel, { memberId: 'a' });
    expect(a.assignment()).toEqual(all(8));
    const b = await join(channel, { memberId: 'b' });
    await until(() => owned([a, b]).length === 8 && Math.abs(a.assignment().length - b.assignment().length) === 0, 'a 4/4 split');
    const before = new Map([...a.assignment()].map((p) => [p, 'a']));
    for (const p of b.assignment()) before.set(p, 'b');
    const c = await join(channel, { memberId: 'c' });
    await until(() => owned([a, b, c]).length === 8 && c.assignment().length === 2, 'a 3/3/2 split');
    expect(counts([a, b, c]).sort()).toEqual([2, 3, 3]);
    expect(owned([a, b, c])).toEqual(all(8));
    // Only c's two partitions changed hands.
    const moved = [...before].filter(([p, owner]) => !(owner === 'a' ? a : b).assignment().includes(p)).map(([p]) => p);
    expect(moved.sort()).toEqual([...c.assignment()]);
  });

  it('processes every message once across members, in key order, and live (run waits for new messages)', async () => {
    const channel = new DurableChannel(new MemoryStore(), 'orders', { partitions: 4 });
    const group = [await join(channel), await join(channel)];
    await until(() => owned(group).length === 4 && counts(group).every((n) => n === 2), 'a 2/2 split');
    const seen: string[] = [];
    const stop = new AbortController();
    const runs = group.map((member) => member.run(({ payload }: ChannelEnvelope) => void seen.push(text(payload)), { signal: stop.signal }));
    for (let i = 0; i < 40; i++) await channel.publish(bytes(`k${i % 5}:${i}`), { key: `k${i % 5}` });
    await until(() => seen.length === 40, '40 messages');
    for (let i = 40; i < 50; i++) await channel.publish(bytes(`k${i % 5}:${i}`), { key: `k${i % 5}` });
    await until(() => seen.length === 50, 'messages published after catching up');
    stop.abort();
    await Promise.all(runs);
    expect(new Set(seen).size).toBe(50);
    for (let k = 0; k < 5; k++) {
      const order = seen.filter((m) => m.startsWith(`k${k}:`)).map((m) => Number(m.split(':')[1]));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it('a caught-up member reads each new message once: no read again after a short batch, no schedule scan unless the schedule moved', async () => {
    const store = new PollCountingStore(new MemoryStore());
    const channel = new DurableChannel(store, 'orders', { partitions: 1 });
    const member = await join(channel);
    await until(() => member.assignment().length === 1, 'the partition');
    const handled: { partitionReads: number; scheduleScans: number }[] = [];
    const stop = new AbortController();
    const run = member.run(() => void handled.push({ partitionReads: store.partitionReads, scheduleScans: store.scheduleScans }), { signal: stop.signal });
    for (let i = 1; i <= 5; i++) {
      await channel.publish(bytes(`m${i}`), { key: 'k' });
      await until(() => handled.length === i, `message ${i}`);
    }
    stop.abort();
    await run;
    // From the second message on (the first poll scans, as after every start): one partition read per message, whether
    // it was published while the member was still committing the one before or once it waited.
    const [, second, , , fifth] = handled;
    expect(fifth!.partitionReads - second!.partitionReads).toBe(3);
    expect(fifth!.scheduleScans - second!.scheduleScans).toBe(0);
  });

  it('commits a backlog messagesPerCommit messages at a time, in key order, and a message arriving alone at once', async () => {
    const inner = new MemoryStore();
    const channel = new DurableChannel(inner, 'orders', { partitions: 1 });
    for (let i = 0; i < 20; i++) await channel.publish(bytes(`m${i}`), { key: `k${i % 3}` });
    const store = new CountingStore(inner);
    const member = await join(new DurableChannel(store, 'orders', { partitions: 1 }), { messagesPerCommit: 8 });
    await until(() => member.assignment().length === 1, 'the partition');
    const cursor = cursorKeyFor('billing', 'orders', 0);
    const cursorMoves = () => store.commitOps.flatMap((ops) => ops.flatMap((op) => (op.op === 'cas' && op.key === cursor ? [op.next] : [])));
    const seen: number[] = [];
    const stop = new AbortController();
    const run = member.run((envelope) => void seen.push(envelope.offset), { signal: stop.signal });
    await until(() => seen.length === 20, 'the backlog');
    await until(async () => (await inner.readValue(cursor)) === 20, 'the last commit');
    expect(seen).toEqual(all(20)); // one partition: offset order, so every key's order too
    expect(cursorMoves()).toEqual([8, 16, 20]); // one commit per batch
    await channel.publish(bytes('alone'), { key: 'k0' }); // nothing else comes: committed without waiting for a batch
    await until(async () => (await inner.readValue(cursor)) === 21, 'the lone message');
    expect(cursorMoves()).toEqual([8, 16, 20, 21]);
    stop.abort();
    await run;
  });

  it('a graceful leave hands the partitions over at once, long before the lease would expire', async () => {
    const channel = new DurableChannel(new MemoryStore(), 'orders', { partitions: 6 });
    const a = await join(channel);
    const b = await join(channel);
    await until(() => counts([a, b]).every((n) => n === 3), 'a 3/3 split');
    const revoked: number[][] = [];
    b.on('revoked', (partitions) => revoked.push([...partitions]));
    const left = b.assignment();
    await b.leave();
    expect(b.assignment()).toEqual([]);
    expect(revoked.flat().sort()).toEqual([...left]);
    await until(() => a.assignment().length === 6, 'a takes over'); // the lease is 60 s: only the hand-over explains this
  });

  it('a hand-over whose release commit fails (nothing written, or written but unconfirmed) is retried: the newcomer gets its partitions without waiting for the lease', async () => {
    for (const outcome of ['lost', 'ambiguous'] as const) {
      const inner = new MemoryStore();
      const storeA = new FreezableStore(inner);
      const a = await join(new DurableChannel(storeA, 'orders', { partitions: 4 }), { memberId: 'a' });
      await until(() => a.assignment().length === 4, 'a holds every partition');
      storeA.trapNextCommit(freesALease, outcome);
      const b = await join(new DurableChannel(inner, 'orders', { partitions: 4 }), { memberId: 'b' });
      // Lease and fallback poll are 60 s: only a retried release (and its log record) explains the split.
      await until(() => counts([a, b]).every((n) => n === 2), `a 2/2 split after a release that failed (${outcome})`);
      expect(storeA.trappedCommits).toBe(1);
      expect(owned([a, b])).toEqual(all(4));
    }
  });

  it('a member has told its listeners a partition is revoked before anyone else can hold it', async () => {
    const inner = new MemoryStore();
    const storeA = new FreezableStore(inner);
    const a = await join(new DurableChannel(storeA, 'orders', { partitions: 4 }), { memberId: 'a' });
    await until(() => a.assignment().length === 4, 'a holds every partition');
    const revoked: number[] = [];
    a.on('revoked', (partitions) => revoked.push(...partitions));
    // a stops right after freeing its second lease, before recording it: b can take both meanwhile.
    let releases = 0;
    storeA.trapNextCommit((ops) => freesALease(ops) && ++releases === 2, 'frozen');
    const b = await join(new DurableChannel(inner, 'orders', { partitions: 4 }), { memberId: 'b' });
    try {
      await until(() => b.assignment().length === 2, 'b holds its two partitions');
      expect(revoked.sort()).toEqual([...b.assignment()]);
    } finally {
      storeA.thaw();
    }
  });

  it('a member paused past its lease is declared dead; its late commit writes nothing (LeaseLostError) and its partitions are processed once by the others', async () => {
    const inner = new MemoryStore();
    const frozen = new FreezableStore(inner);
    const clock = { t: 0, now: () => clock.t };
    const watcher = new DurableChannel(inner, 'orders', { partitions: 2 });
    const zombieChannel = new DurableChannel(frozen, 'orders', { partitions: 2 });
    const a = await join(watcher, { memberId: 'a', clock, leaseMs: 1_000, heartbeatMs: 50 });
    const z = await join(zombieChannel, { memberId: 'z', leaseMs: 1_000, heartbeatMs: 50 });
    await until(() => counts([a, z]).every((n) => n === 1), 'a 1/1 split');
    const [zp] = z.assignment() as [number];
    const lost: LeaseLostError[] = [];
    z.on('lost', (error) => lost.push(error));

    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    const handledBy: string[] = [];
    const zStop = new AbortController();
    const zRun = z.run(
      async ({ payload }) => {
        entered();
        await paused; // z stops here, as if SIGSTOPped mid-message
        handledBy.push(`z:${text(payload)}`);
      },
      { signal: zStop.signal },
    );
    const aStop = new AbortController();
    const aRun = a.run(({ payload }) => void handledBy.push(`a:${text(payload)}`), { signal: aStop.signal });
    const key = ['x', 'y', 'w', 'v', 'u'].find((k) => watcher.partitionFor(k) === zp) as string;
    await watcher.publish(bytes('m1'), { key });
    await inHandler;
    frozen.freeze();
    // Time passes on a's clock only: z's heartbeat stays where it was when z froze.
    await until(() => {
      clock.t += 250;
      return a.assignment().length === 2;
    }, 'a takes over the partition of the dead member');
    await until(() => handledBy.includes('a:m1'), 'a processes the message z was stuck on');

    frozen.thaw();
    resume(); // z wakes up and tries to commit m1
    await until(() => lost.length === 1, 'the zombie learns it lost the lease');
    expect(lost[0]).toBeInstanceOf(LeaseLostError);
    expect(lost[0]?.code).toBe('LEASE_LOST');
    expect(lost[0]?.partition).toBe(zp);
    expect((await watcher.consume('billing', zp)).cursor.currentOffset).toBe(1); // the cursor moved once, by a
    await until(() => z.assignment().length === 1 && a.assignment().length === 1, 'the zombie rejoins and gets a fair share again');
    zStop.abort();
    aStop.abort();
    await Promise.all([zRun, aRun]);
  });

  it('a failing handler does not stop run: the message is retried with backoff on its partition (nothing written meanwhile), the other partitions go on, the member keeps its leases', async () => {
    const channel = new DurableChannel(new MemoryStore(), 'orders', { partitions: 2 });
    const member = await join(channel);
    const failures: MessageFailedError[] = [];
    member.on('failed', (error) => failures.push(error));
    const poisonKey = ['a', 'b', 'c', 'd', 'e'].find((k) => channel.partitionFor(k) === 0) as string;
    const otherKey = ['a', 'b', 'c', 'd', 'e'].find((k) => channel.partitionFor(k) === 1) as string;
    const handled: string[] = [];
    let attempts = 0;
    const stop = new AbortController();
    let settled = false;
    const running = member.run(
      (envelope, tx) => {
        const body = text(envelope.payload);
        if (body === 'poison' && ++attempts < 3) {
          tx.cas('effects/poison', 0, attempts); // dropped with the failed attempt
          throw new Error(`refused ${attempts}`);
        }
        if (body === 'poison') tx.cas('effects/poison', 0, 100);
        handled.push(body);
      },
      { signal: stop.signal },
    );
    void running.finally(() => (settled = true));
    await channel.publish(bytes('poison'), { key: poisonKey });
    await until(() => failures.length === 1, 'the first failure is reported');
    await channel.publish(bytes('other'), { key: otherKey });
    await until(() => handled.includes('other'), 'the other partition goes on');
    await until(() => handled.includes('poison'), 'the message succeeds on its third attempt');
    await channel.publish(bytes('after'), { key: poisonKey });
    await until(() => handled.includes('after'), 'its partition goes on after it');
    expect(settled).toBe(false);
    expect(member.assignment()).toEqual([0, 1]);
    expect(failures.map((error) => [error.code, error.partition, error.offset, error.attempt, error.retryInMs])).toEqual([
      ['MESSAGE_FAILED', 0, 0, 1, 100],
      ['MESSAGE_FAILED', 0, 0, 2, 200],
    ]);
    expect(failures[0]).toBeInstanceOf(MessageFailedError);
    expect((failures[1]?.cause as Error).message).toBe('refused 2');
    expect(handled.filter((body) => body === 'poison')).toHaveLength(1);
    expect(await channel.store.readValue('effects/poison')).toBe(100); // only the successful attempt's effect landed
    stop.abort();
    await running;
  });

  it('a store that stalls every member’s writes past the lease declares nobody dead: a late reading is no verdict, the neighbour gets the beats a lease holds', async () => {
    const { inner, storeA, storeB, clock, a, b, revoked } = await twoMembersOnAClock();
    // b's writes stall first; a reads b's last counter once more, then a's writes stall too.
    storeB.freeze();
    storeA.freezeAfterNextHeartbeatRead();
    await until(() => storeA.heartbeatReads > 0 && storeA.frozen, 'a sees b’s last counter, then stalls');
    clock.t += 10_000; // ten leases pass while neither member's writes go through (SQLite saturated, say)
    const readsBefore = storeA.heartbeatReads;
    storeA.thaw(); // a gets the store back first: its next beat lands, then it reads b's counter, still unchanged
    await until(() => storeA.heartbeatReads > readsBefore, 'a reads b’s counter after the stall');
    storeB.thaw();
    const [incarnationA, incarnationB] = [a.incarnation, b.incarnation];
    await until(async () => {
      clock.t += 100;
      return storeA.heartbeatReads > readsBefore + 25; // well past the 20 readings a verdict needs
    }, 'a keeps reading b');
    await expectNobodyExpired(inner, [a, b], [incarnationA, incarnationB], revoked);
  });

  it('a store outage longer than the lease declares nobody dead: after it, each member is judged from its first reading after the outage, not from before it', async () => {
    const { inner, storeA, storeB, clock, a, b, revoked } = await twoMembersOnAClock();
    const [incarnationA, incarnationB] = [a.incarnation, b.incarnation];
    const readsAtSplit = storeA.heartbeatReads;
    await until(() => storeA.heartbeatReads >= readsAtSplit + 3, 'a watches b’s heartbeat');
    storeA.down = storeB.down = true; // the server restarts: every call of both members fails
    await new Promise((resolve) => setTimeout(resolve, 200)); // both members' loops meet the outage
    clock.t += 10_000; // it lasts ten leases
    // a's connection comes back first; b's is still down, so a reads b's counter, unchanged since before
    // the outage, more often than a verdict needs (20 readings) while no time passes on a's clock.
    const readsBefore = storeA.heartbeatReads;
    storeA.down = false;
    await until(() => storeA.heartbeatReads >= readsBefore + 25, 'a reads b’s counter after the outage');
    storeB.down = false;
    await until(async () => {
      clock.t += 100;
      return storeA.heartbeatReads > readsBefore + 55; // b beats again: another 30 readings, three leases
    }, 'a keeps reading b');
    await expectNobodyExpired(inner, [a, b], [incarnationA, incarnationB], revoked);
  });

  it('heartbeats go on while a hand-over waits for a slow message to finish (the beat is not queued behind the work)', async () => {
    const store = new MemoryStore();
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    const a = await join(channel, { memberId: 'a' });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const stop = new AbortController();
    const running = a.run(
      async () => {
        entered();
        await slow;
      },
      { signal: stop.signal },
    );
    const key = ['a', 'b', 'c', 'd'].find((k) => channel.partitionFor(k) === 1) as string;
    await channel.publish(bytes('slow'), { key });
    await inHandler;
    const b = await join(channel, { memberId: 'b' }); // a must hand a partition over, so its membership loop waits for a's message
    const beats = async () => (await store.readValue(`group/orders/billing/heartbeat/${a.incarnation}`)) ?? 0;
    const before = await beats();
    await until(async () => (await beats()) >= before + 5, 'five heartbeats of a while its message is in flight');
    finish();
    await until(() => counts([a, b]).every((n) => n === 1), 'a 1/1 split once the message finished');
    stop.abort();
    await running;
  });

  it('compacts the membership log as members come and go: a join replays the snapshot and the records after it, not the history', async () => {
    const store = new MemoryStore();
    const channel = new DurableChannel(store, 'orders', { partitions: 4 });
    const compactAfter = 8;
    await channel.publish(bytes('x'), { key: 'x' }); // records the channel, for listGroups
    const a = await join(channel, { memberId: 'a', compactAfter });
    const b = await join(channel, { memberId: 'b', compactAfter });
    await until(() => counts([a, b]).every((n) => n === 2), 'a 2/2 split');
    for (let i = 0; i < 8; i++) {
      const c = await join(channel, { memberId: `c${i}`, compactAfter });
      await until(() => c.assignment().length === 1 && owned([a, b, c]).length === 4, `c${i} gets its share`);
      await c.leave();
      await until(() => counts([a, b]).every((n) => n === 2), `a and b take c${i}'s partition back`);
    }
    const [info] = await listGroups(store, (await readChannel(store, 'orders'))!);
    expect(info?.logCompactions).toBeGreaterThan(0);
    expect(info?.logLength).toBeGreaterThan(4 * compactAfter); // 8 joins, 8 leaves and their hand-overs
    // Nobody rejoined (incarnations unchanged) and no change was lost: the log says a and b, each holding 2.
    expect(info?.members.map((m) => [m.incarnation, m.memberId, m.assigned.length])).toEqual([
      [a.incarnation, 'a', 2],
      [b.incarnation, 'b', 2],
    ]);
    const counting = new CountingStore(store);
    const d = await join(new DurableChannel(counting, 'orders', { partitions: 4 }), { memberId: 'd', compactAfter });
    await until(() => counts([a, b, d]).sort().join() === '1,1,2', 'd gets its share');
    const replayed = [...counting.entriesRead].filter(([stream]) => stream.includes('/members')).reduce((sum, [, n]) => sum + n, 0);
    expect(replayed).toBeLessThanOrEqual(2 * (compactAfter + 4)); // two catch-ups at its join, each at most one epoch
    expect(d.incarnation).toBeGreaterThanOrEqual(info!.logLength); // positions go on across epochs: no incarnation is reused
  });

  it('a handler that throws what is not an Error (undefined, a string, an Error that is its own cause) still only fails its message: run goes on, the leases stay', async () => {
    const channel = new DurableChannel(new MemoryStore(), 'orders', { partitions: 2 });
    const member = await join(channel);
    const failures: MessageFailedError[] = [];
    member.on('failed', (error) => failures.push(error));
    const cyclic = new Error('cyclic');
    (cyclic as { cause?: unknown }).cause = cyclic;
    const thrown: unknown[] = [undefined, 'refused', cyclic];
    const handled: string[] = [];
    const stop = new AbortController();
    let settled = false;
    const running = member.run(
      ({ payload }) => {
        if (thrown.length > 0) throw thrown.shift();
        handled.push(text(payload));
      },
      { signal: stop.signal },
    );
    void running.finally(() => (settled = true));
    await channel.publish(bytes('m'), { key: 'k' });
    await until(() => handled.includes('m'), 'the message succeeds on its fourth attempt');
    expect(failures.map((error) => error.cause)).toEqual([undefined, 'refused', cyclic]);
    expect(settled).toBe(false);
    expect(member.assignment()).toEqual([0, 1]);
    stop.abort();
    await running;
  });

  it('rejects bad options with ConfigError before anything is stored', async () => {
    const store = new MemoryStore();
    const channel = new DurableChannel(store, 'orders', { partitions: 2 });
    const bad: unknown[] = [
      { leaseMs: 1000, heartbeatMs: 1000 },
      { leaseMs: 500, heartbeatMs: 1000 },
      { leaseMs: -1 },
      { heartbeatMs: 0 },
      { pollMs: 1.5 },
      { batchSize: -3 },
      { messagesPerCommit: 0 },
      { messagesPerCommit: 2.5 },
      { messagesPerCommit: '8' },
      { compactAfter: 0 },
      { leaseMs: '2000' },
      { memberId: '' },
      { clock: {} },
      { leaseMS: 2000 },
      'fast',
    ];
    for (const options of bad) {
      await expect(channel.join('billing', options as JoinOptions), JSON.stringify(options)).rejects.toThrow(ConfigError);
    }
    expect(await store.listStreams('')).toEqual([]);
  });
});
