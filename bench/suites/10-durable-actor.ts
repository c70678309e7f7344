import { join } from 'node:path';
import { createDurableActor, type DurableActor } from '@liminal/actors';
import { PostgresStore, SqliteStore, type DurableStore } from '@liminal/store';
import { assign, createActor, setup, type AnyStateMachine } from 'xstate';
import { dropSchemaOnCleanup } from '../src/postgres.js';
import { defineSuite, type BenchContext, type Side } from '../src/suite.js';

/** A flow machine of realistic shape: a few states, a guard, a timer, a context of ~20 fields. */
const flow = setup({ guards: { even: ({ context }) => context.count % 2 === 0 } }).createMachine({
  id: 'benchFlow',
  initial: 'open',
  context: {
    count: 0,
    customer: 'customer-0001',
    ...Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`field${i}`, `value-${i}-${'x'.repeat(16)}`])),
  } as { count: number; customer: string },
  states: {
    open: {
      after: { 3_600_000: 'expired' },
      on: {
        tick: [
          { guard: 'even', target: 'odd', actions: assign({ count: ({ context }) => context.count + 1 }) },
          { actions: assign({ count: ({ context }) => context.count + 1 }) },
        ],
      },
    },
    odd: { on: { tick: { target: 'open', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
    expired: {},
  },
});

const encoder = new TextEncoder();

/** What users write today: XState in memory, the whole persisted snapshot serialized and stored after every event. */
function handWrittenSide(store: DurableStore, label: string, config: string, bench: BenchContext): Side {
  const actor = createActor(flow).start();
  bench.cleanup(() => actor.stop());
  const stream = bench.uniqueName('hand-written');
  let seq = 0;
  return {
    label,
    config,
    run: async () => {
      actor.send({ type: 'tick' });
      await store.append(stream, encoder.encode(JSON.stringify(actor.getPersistedSnapshot())), seq++);
    },
  };
}

async function durableSide(store: DurableStore, label: string, config: string, bench: BenchContext): Promise<Side> {
  const actor = await createDurableActor(flow, { store, id: bench.uniqueName('durable') });
  bench.cleanup(() => actor.stop());
  return { label, config, run: () => actor.send({ type: 'tick' }) };
}

async function eventsPerSecond(bench: BenchContext, store: DurableStore, adapter: string, config: string): Promise<void> {
  const durable = `Liminal createDurableActor send (${adapter})`;
  const handWritten = `XState + getPersistedSnapshot() stored per event (${adapter})`;
  await bench.compare({
    id: `10-durable-actor-send/${adapter.toLowerCase()}`,
    title: `Durable actor events/s vs hand-written snapshot persistence, ${adapter}`,
    note:
      'One op = one event sent and awaited until durable. Liminal appends the event to the journal (plus a snapshot every 1000 entries); ' +
      'the hand-written side sends to an in-memory XState actor, then appends JSON.stringify(getPersistedSnapshot()) to a stream of the same store. ' +
      'Same machine (guard, after timer, ~20 context fields) on both sides.',
    sides: [await durableSide(store, durable, config, bench), handWrittenSide(store, handWritten, config, bench)],
    targets: [{ vs: handWritten, atLeast: 1 }],
  });
}

async function reopen(bench: BenchContext, store: DurableStore, events: number): Promise<void> {
  const write = async (id: string, snapshotEvery: number) => {
    const actor: DurableActor<AnyStateMachine> = await createDurableActor(flow, { store, id, snapshotEvery });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < events; i++) sends.push(actor.send({ type: 'tick' }));
    await Promise.all(sends);
    await actor.stop();
  };
  const withSnapshot = bench.uniqueName('reopen-snapshot');
  const withoutSnapshot = bench.uniqueName('reopen-replay');
  await write(withSnapshot, 1000);
  await write(withoutSnapshot, Number.MAX_SAFE_INTEGER);
  const open = (id: string) => async () => (await createDurableActor(flow, { store, id })).stop();
  await bench.compare({
    id: '10-durable-actor-reopen/sqlite',
    title: `Reopen a durable actor with ${events.toLocaleString('en')} journaled events: from its snapshot vs full replay`,
    note: 'One op = createDurableActor on an existing journal (restore + replay of the tail, then the ownership mark) and stop(). SQLite, WAL, synchronous=FULL.',
    sides: [
      { label: 'Liminal reopen from snapshot (snapshotEvery 1000)', config: `${events} events, latest snapshot covers all but < 1000`, run: open(withSnapshot) },
      { label: 'Liminal reopen by full replay (no snapshot)', config: `${events} events replayed through XState with actions off`, run: open(withoutSnapshot) },
    ],
  });
}

export default defineSuite({
  title: '10. Durable XState actors',
  async run(bench) {
    const dir = bench.tempDir();
    const sqlite = new SqliteStore(join(dir, 'actors.db'), { synchronous: 'FULL' });
    bench.cleanup(() => sqlite.close());
    await eventsPerSecond(bench, sqlite, 'SQLite', 'WAL, synchronous=FULL');

    const url = bench.postgresUrl;
    const pgTitle = 'Durable actor events/s vs hand-written snapshot persistence, PostgreSQL';
    if (!url) {
      bench.skip({ id: '10-durable-actor-send/postgresql', title: pgTitle, sides: ['Liminal createDurableActor send (PostgreSQL)'] }, 'PostgreSQL unreachable');
    } else {
      const schema = bench.uniqueName('bench_actor');
      dropSchemaOnCleanup(bench, url, schema);
      const postgres = new PostgresStore(url, { schema, poolSize: 4 });
      bench.cleanup(() => postgres.close());
      await eventsPerSecond(bench, postgres, 'PostgreSQL', 'pool 4, server defaults (fsync=on)');
    }

    const memoryActor = await createDurableActor(flow, { store: new SqliteStore(join(dir, 'ratio.db'), { synchronous: 'FULL' }), id: 'ratio' });
    bench.cleanup(() => memoryActor.stop());
    const raw = createActor(flow).start();
    bench.cleanup(() => raw.stop());
    await bench.compare({
      id: '10-durable-actor-vs-xstate',
      title: 'Durable actor send vs raw in-memory XState send (the price of durability)',
      note: 'One op = one event. Raw XState keeps nothing; the durable actor journals every event to SQLite (WAL, synchronous=FULL) before processing it.',
      sides: [
        { label: 'Liminal createDurableActor send (SQLite)', config: 'journal per event', run: () => memoryActor.send({ type: 'tick' }) },
        { label: 'XState actor.send (in memory)', config: 'no persistence', run: () => raw.send({ type: 'tick' }) },
      ],
    });

    await reopen(bench, sqlite, bench.scale(10_000, 2_000));
  },
});
