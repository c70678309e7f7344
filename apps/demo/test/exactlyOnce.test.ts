import { SupervisorEscalationError } from '@liminal/actors';
import { ConditionFailedError, DedupCache, DurableChannel, listDedupKeys, recoverCursor, type EffectTx } from '@liminal/durability';
import type { WriteOp } from '@liminal/store';
import { MemoryStore, type DurableStore } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { startOrResume, type Run } from '../src/manifest.js';
import { processedCount } from '../src/coordinator.js';
import { superviseMember } from '../src/partitionSupervisor.js';
import { orderHandler } from '../src/partitionWorker.js';
import { produce } from '../src/producer.js';
import { expectedEffects } from '../src/saga.js';
import { makeOrder } from '../src/orders.js';
import { OrderEscalation } from '../src/orderConversation.js';
import { emptyStats } from '../src/stats.js';
import { ParticipantCrash, participantSupervision } from '../src/supervision.js';
import { isClean, verifyRun } from '../src/verify.js';

async function newRun(store: DurableStore, messages: number, partitions: number, seed: number): Promise<Run> {
  const start = await startOrResume(
    store,
    { settings: { messages, partitions, seed }, explicit: new Set(), reset: false },
    async () => false,
  );
  const channel = new DurableChannel(store, start.run.names.channel, { partitions });
  await produce(store, channel, start.run, new AbortController().signal);
  return start.run;
}

// In memory, crashes come far faster than on a real store: a generous supervisor keeps the run going.
const lenient = { strategy: 'oneForOne', intensity: 10_000, periodMs: 1_000 } as const;

/** One group member processes the run until every order is behind the cursors, then leaves. */
async function processAll(store: DurableStore, run: Run, crashRate: number) {
  const stats = emptyStats();
  const channel = new DurableChannel(store, run.names.channel, { partitions: run.partitions });
  const member = await channel.join(run.names.consumerId, { leaseMs: 60_000, heartbeatMs: 50, pollMs: 20 });
  const stop = new AbortController();
  const supervised = superviseMember({
    store,
    run,
    member,
    crashRate,
    stats,
    signal: stop.signal,
    log: () => {},
    spec: lenient,
    // Frozen: every restart of a run counts against its supervisor's intensity, however slow the machine.
    restartClock: () => 0,
  });
  let failed: unknown;
  supervised.catch((error: unknown) => (failed = error));
  while ((await processedCount(store, run)) < run.messages && failed === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  stop.abort();
  await supervised;
  await member.leave();
  return { stats };
}

describe('order processing', () => {
  it('gives every order each planned effect exactly once despite participant crashes', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 150, 3, 11);
    const { stats } = await processAll(store, run, 0.3);
    expect(stats.crashesInjected).toBeGreaterThan(0);
    expect(stats.duplicatesSuppressed).toBeGreaterThan(0);

    const report = await verifyRun(store, run);
    expect(report).toMatchObject({ completed: 150, pending: 0, lost: 0, duplicated: 0 });
    const expected = Array.from({ length: 150 }, (_, i) => expectedEffects(makeOrder(11, i)).length).reduce((a, b) => a + b, 0);
    expect(report.sideEffects).toBe(expected);
    expect(report.compensations).toBeGreaterThan(0);
  });

  it('commits each effect with its receipt and the lease check in one commit, taking no claim before it', async () => {
    const commits: (readonly WriteOp[])[] = [];
    const store = new (class extends MemoryStore {
      override commit(ops: readonly WriteOp[]) {
        commits.push(ops);
        return super.commit(ops);
      }
    })();
    const run = await newRun(store, 20, 2, 3);
    await processAll(store, run, 0);
    const ledgers = [run.names.ledger(0), run.names.ledger(1)];
    const effects = commits.filter((ops) => ops.some((op) => op.op === 'append' && ledgers.includes(op.stream)));
    expect(effects.length).toBe((await verifyRun(store, run)).sideEffects); // one commit per ledger row
    for (const ops of effects) expect(ops.some((op) => op.op === 'check')).toBe(true); // under the partition's lease
    // Every write to an effect's dedup entry is in one of those commits: no claim commit before the effect.
    const effectEntries = new DedupCache(store, run.names.dedupNamespace).streamFor('');
    const prefix = effectEntries.slice(0, effectEntries.lastIndexOf('/') + 1);
    const entryWrites = commits.filter((ops) => ops.some((op) => op.op === 'append' && op.stream.startsWith(prefix)));
    expect(entryWrites.filter((ops) => !effects.includes(ops))).toEqual([]);
  });

  it('processing the same run again (a restart after everything finished) adds no effect', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 60, 2, 5);
    await processAll(store, run, 0.2);
    const before = (await verifyRun(store, run)).sideEffects;
    await processAll(store, run, 0.2);
    const after = await verifyRun(store, run);
    expect(after.sideEffects).toBe(before);
    expect(isClean(after)).toBe(true);
  });
});

describe('supervision', () => {
  it('escalates from the participants to the partition supervisor after exactly intensity + 1 crashes on a frozen clock', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 5, 1, 7);
    const stats = emptyStats();
    const channel = new DurableChannel(store, run.names.channel, { partitions: 1 });
    const member = await channel.join(run.names.consumerId, { leaseMs: 60_000, heartbeatMs: 50, pollMs: 20 });
    const supervised = superviseMember({
      store,
      run,
      member,
      crashRate: 3, // every attempt crashes before its effect
      stats,
      signal: new AbortController().signal,
      log: () => {},
      spec: { strategy: 'oneForOne', intensity: 0, periodMs: 1_000 },
      restartClock: () => 0,
    });
    const error = await supervised.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await member.leave();
    // The partition supervisor escalated over the order's escalation, caused by the participant supervisor's, caused by the crash.
    const chain: unknown[] = [];
    for (let at: unknown = error; at !== undefined; at = (at as { cause?: unknown }).cause) chain.push(at);
    expect(chain[0]).toBeInstanceOf(SupervisorEscalationError);
    expect(chain[0]).toMatchObject({ child: 'member-run', intensity: 0 });
    expect(chain[1]).toBeInstanceOf(OrderEscalation);
    expect(chain[2]).toBeInstanceOf(SupervisorEscalationError);
    expect(chain[2]).toMatchObject({ supervisor: 'participant supervisor', child: 'validate', intensity: participantSupervision.intensity });
    expect(chain[3]).toBeInstanceOf(ParticipantCrash);
    // One-for-one: only the crashing participant restarts, and the crash past the intensity escalates instead.
    expect(stats.participantRestarts).toBe(participantSupervision.intensity + 1);
    expect(stats.restartsByParticipant.validate).toBe(participantSupervision.intensity + 1);
    expect((await verifyRun(store, run)).sideEffects).toBe(0);
  });
});

describe('verify', () => {
  it('reports a duplicated ledger entry', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 40, 2, 3);
    await processAll(store, run, 0);
    const stream = run.names.ledger(0);
    const [first] = await store.readFrom(stream, 0, 1);
    await store.append(stream, first!.payload, await store.streamLength(stream));
    const report = await verifyRun(store, run);
    expect(report.duplicated).toBe(1);
    expect(isClean(report)).toBe(false);
  });

  it('reports orders a cursor moved past before they finished as lost', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 40, 2, 3);
    const cursor = await recoverCursor(store, run.names.consumerId, run.names.channel, 1);
    await cursor.checkpoint(3);
    const report = await verifyRun(store, run);
    expect(report.lost).toBe(3);
    expect(report.pending).toBe(40);
  });

  it('an unfinished run is clean but pending', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 30, 2, 3);
    const report = await verifyRun(store, run);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, pending: 30, completed: 0 });
  });

  it('a worker that lost the partition writes no effect: every ledger row commits under the handler’s lease check', async () => {
    const store = new MemoryStore();
    const run = await newRun(store, 4, 1, 3);
    await store.cas('lease-epoch', 0, 2); // the partition's lease moved on to epoch 2
    const channel = new DurableChannel(store, run.names.channel, { partitions: 1 });
    const [envelope] = await (await channel.consume(run.names.consumerId, 0)).poll(1);
    const txWith = (conditions: readonly WriteOp[]): EffectTx => ({ idempotencyKey: envelope!.idempotencyKey, conditions, append: () => {}, cas: () => {} });
    const stale = orderHandler({ store, run, crashRate: 0, stats: emptyStats(), incarnation: 0 });
    const error = await Promise.resolve(stale.handle(envelope!, txWith([{ op: 'check', key: 'lease-epoch', equals: 1 }]))).catch((e: unknown) => e);
    let cause = error;
    while (cause instanceof Error && !(cause instanceof ConditionFailedError)) cause = cause.cause;
    expect(cause).toBeInstanceOf(ConditionFailedError);
    expect(await store.streamLength(run.names.ledger(0))).toBe(0);
    expect(await listDedupKeys(store, run.names.dedupNamespace)).toEqual({ entries: [] }); // nothing claimed either
    // The current holder (epoch 2) applies the order's effects.
    const current = orderHandler({ store, run, crashRate: 0, stats: emptyStats(), incarnation: 1 });
    await current.handle(envelope!, txWith([{ op: 'check', key: 'lease-epoch', equals: 2 }]));
    expect(await store.streamLength(run.names.ledger(0))).toBe(expectedEffects(makeOrder(3, 0)).length);
  });
});
