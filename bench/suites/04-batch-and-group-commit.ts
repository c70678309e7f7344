import { join } from 'node:path';
import { SqliteStore } from '@liminal/store';
import { RawSqlite } from '../src/baselines/rawSqlite.js';
import { payload, payloadBytes } from '../src/payload.js';
import { storeAndRawPeer } from '../src/postgres.js';
import { Callers } from '../src/streams.js';
import { defineSuite } from '../src/suite.js';

const batchSize = 100;
const callers = 64;
const poolSize = 10;
const batchBytes = Array.from({ length: batchSize }, () => payloadBytes);
const batchBuffers = Array.from({ length: batchSize }, () => payload);

export default defineSuite({
  title: '4. Batched append and group commit',
  async run(bench) {
    const dir = bench.tempDir();

    // 4. appendMany(100) vs single appends, per entry.
    {
      const batched = new SqliteStore(join(dir, 'batched.db'), { synchronous: 'FULL' });
      const single = new SqliteStore(join(dir, 'single.db'), { synchronous: 'FULL' });
      const raw = new RawSqlite(join(dir, 'raw-batch.db'), 'FULL');
      bench.cleanup(() => batched.close());
      bench.cleanup(() => single.close());
      bench.cleanup(() => raw.close());
      let batchedSeq = 0;
      let singleSeq = 0;
      let rawSeq = 0;
      await bench.compare({
        id: '4-append-many/sqlite',
        title: `SQLite appendMany(${batchSize}) vs single appends, per entry (synchronous=FULL)`,
        note: `ops/s counts entries. The single-append side is ${batchSize} awaited SqliteStore.append calls per call; the raw side is ${batchSize} INSERTs in one transaction (the engine's limit for a batch).`,
        sides: [
          {
            label: `Liminal appendMany(${batchSize})`,
            config: 'WAL, synchronous=FULL',
            opsPerCall: batchSize,
            run: async () => {
              await batched.appendMany('bench-1', batchBytes, batchedSeq);
              batchedSeq += batchSize;
            },
          },
          {
            label: 'Liminal single append',
            config: 'WAL, synchronous=FULL',
            opsPerCall: batchSize,
            run: async () => {
              for (let i = 0; i < batchSize; i++) await single.append('bench-1', payloadBytes, singleSeq++);
            },
          },
          {
            label: `raw better-sqlite3, ${batchSize} INSERTs in one transaction`,
            config: 'WAL, synchronous=FULL',
            opsPerCall: batchSize,
            run: () => {
              raw.insertMany('bench-1', batchBuffers, rawSeq);
              rawSeq += batchSize;
            },
          },
        ],
        targets: [{ vs: 'Liminal single append', atLeast: 10 }],
      });
    }

    const url = bench.postgresUrl;
    const pgBatch = {
      id: '4-append-many/postgres',
      title: `PostgreSQL appendMany(${batchSize}) vs single appends, per entry`,
      note: `ops/s counts entries. The single-append side is ${batchSize} awaited PostgresStore.append calls per call; the raw side is one multi-row INSERT of ${batchSize}.`,
      targets: [{ vs: 'Liminal single append', atLeast: 10 }],
    };
    if (!url) {
      bench.skip({ ...pgBatch, sides: [`Liminal appendMany(${batchSize})`, 'Liminal single append'] }, 'PostgreSQL unreachable');
    } else {
      const { store, raw } = await storeAndRawPeer(bench, url, 'bench_pg_batch', poolSize);
      let batchedSeq = 0;
      let singleSeq = 0;
      let rawSeq = 0;
      await bench.compare({
        ...pgBatch,
        sides: [
          {
            label: `Liminal appendMany(${batchSize})`,
            config: `pool ${poolSize}`,
            opsPerCall: batchSize,
            run: async () => {
              await store.appendMany('batched', batchBytes, batchedSeq);
              batchedSeq += batchSize;
            },
          },
          {
            label: 'Liminal single append',
            config: `pool ${poolSize}`,
            opsPerCall: batchSize,
            run: async () => {
              for (let i = 0; i < batchSize; i++) await store.append('single', payloadBytes, singleSeq++);
            },
          },
          {
            label: `raw pg multi-row INSERT of ${batchSize}`,
            config: `pool ${poolSize}`,
            opsPerCall: batchSize,
            run: async () => {
              await raw.insertMany('raw', rawSeq, batchBuffers);
              rawSeq += batchSize;
            },
          },
        ],
      });
    }

    // 4b. Group commit: 64 callers at once, full durability.
    {
      const store = new SqliteStore(join(dir, 'group.db'), { synchronous: 'FULL' });
      const raw = new RawSqlite(join(dir, 'group-raw.db'), 'FULL');
      const rawTx = new RawSqlite(join(dir, 'group-raw-tx.db'), 'FULL');
      bench.cleanup(() => store.close());
      bench.cleanup(() => raw.close());
      bench.cleanup(() => rawTx.close());
      const liminalCallers = new Callers(callers, 'liminal');
      const rawCallers = new Callers(callers, 'raw');
      let rawTxRound = 0;
      await bench.compare({
        id: '4b-group-commit/sqlite',
        title: `SQLite group commit: ${callers} callers each appending to its own stream at once (synchronous=FULL)`,
        note:
          `One call starts one append on each of ${callers} streams and waits for all; ops/s counts appends. ` +
          'The raw autocommit loop commits (and fsyncs) each INSERT; the one-transaction side is the ideal a group commit approaches.',
        sides: [
          {
            label: 'Liminal SqliteStore.append ×64 concurrent',
            config: 'WAL, synchronous=FULL',
            opsPerCall: callers,
            run: () => liminalCallers.round((stream, seq) => store.append(stream, payloadBytes, seq)),
          },
          {
            label: 'raw better-sqlite3 autocommit loop',
            config: 'WAL, synchronous=FULL, one transaction per INSERT',
            opsPerCall: callers,
            run: () => rawCallers.sequential((stream, seq) => raw.insert(stream, seq, payload)),
          },
          {
            label: `raw better-sqlite3, ${callers} INSERTs in one transaction`,
            config: 'WAL, synchronous=FULL',
            opsPerCall: callers,
            run: () => {
              const round = rawTxRound++;
              rawTx.db.transaction(() => {
                for (let caller = 0; caller < callers; caller++) rawTx.insert(`raw-${caller}`, round, payload);
              })();
            },
          },
        ],
        targets: [{ vs: 'raw better-sqlite3 autocommit loop', atLeast: 5 }],
      });
    }

    const pgGroup = {
      id: '4b-group-commit/postgres',
      title: `PostgreSQL group commit: ${callers} callers each appending to its own stream at once (fsync=on, synchronous_commit=on)`,
      note:
        `One call starts one append on each of ${callers} streams and waits for all; ops/s counts appends. ` +
        `The raw autocommit loop runs the ${callers} INSERTs one after another, each its own transaction; ` +
        `the concurrent raw side sends them at once through a pool of ${poolSize} (PostgreSQL's own commit flushing then batches some WAL flushes).`,
      targets: [{ vs: 'raw pg autocommit loop', atLeast: 5 }],
    };
    if (!url) {
      bench.skip({ ...pgGroup, sides: ['Liminal PostgresStore.append ×64 concurrent', 'raw pg autocommit loop'] }, 'PostgreSQL unreachable');
      return;
    }
    const { store, raw } = await storeAndRawPeer(bench, url, 'bench_pg_group', poolSize);
    const liminalCallers = new Callers(callers, 'liminal');
    const loopCallers = new Callers(callers, 'loop');
    const concurrentCallers = new Callers(callers, 'concurrent');
    await bench.compare({
      ...pgGroup,
      sides: [
        {
          label: 'Liminal PostgresStore.append ×64 concurrent',
          config: `pool ${poolSize}`,
          opsPerCall: callers,
          run: () => liminalCallers.round((stream, seq) => store.append(stream, payloadBytes, seq)),
        },
        {
          label: 'raw pg autocommit loop',
          config: 'one INSERT at a time, each its own transaction',
          opsPerCall: callers,
          run: () => loopCallers.sequential((stream, seq) => raw.insert(stream, seq, payload)),
        },
        {
          label: 'raw pg INSERT ×64 concurrent',
          config: `pool ${poolSize}, autocommit`,
          opsPerCall: callers,
          run: () => concurrentCallers.round((stream, seq) => raw.insert(stream, seq, payload)),
        },
      ],
    });
  },
});
