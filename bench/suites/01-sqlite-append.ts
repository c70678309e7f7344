import { join } from 'node:path';
import { SqliteStore, type SqliteSynchronous } from '@liminal/store';
import { emmettSqliteSynchronous, emmettSqliteVersion, openEmmettSqlite } from '@liminal/bench-peer-emmett-sqlite';
import { defaultSynchronous, RawSqlite } from '../src/baselines/rawSqlite.js';
import { event, payload, payloadBytes } from '../src/payload.js';
import { defineSuite, type BenchContext, type Side } from '../src/suite.js';

function liminalSide(bench: BenchContext, dir: string, synchronous: SqliteSynchronous | undefined): Side {
  const store = new SqliteStore(join(dir, `liminal-${synchronous ?? 'default'}.db`), synchronous ? { synchronous } : {});
  bench.cleanup(() => store.close());
  let seq = 0;
  return {
    label: 'Liminal SqliteStore.append',
    config: `WAL, synchronous=${synchronous ?? 'FULL (its default)'}`,
    run: async () => {
      await store.append('bench-1', payloadBytes, seq);
      seq++;
    },
  };
}

function rawSide(bench: BenchContext, dir: string, name: string, synchronous: SqliteSynchronous, config: string): Side {
  const raw = new RawSqlite(join(dir, `${name}.db`), synchronous);
  bench.cleanup(() => raw.close());
  let seq = 0;
  return {
    label: 'raw better-sqlite3 INSERT',
    config,
    run: () => raw.insert('bench-1', seq++, payload),
  };
}

async function emmettSide(bench: BenchContext, dir: string, name: string): Promise<Side> {
  const file = join(dir, `${name}.db`);
  const synchronous = await emmettSqliteSynchronous(file);
  const emmett = openEmmettSqlite(file);
  bench.cleanup(() => bench.log(`${name}: Emmett appends retried after its SQLITE_BUSY commit failure: ${emmett.busyRetries}`));
  let version = 0n;
  return {
    label: `Emmett SQLite ${emmettSqliteVersion} appendToStream`,
    config: `WAL, synchronous=${synchronous}, file reopened per call (its default); retried on its sporadic SQLITE_BUSY commit failure`,
    run: async () => {
      await emmett.append('bench-1', event, version);
      version++;
    },
  };
}

export default defineSuite({
  title: '1. SQLite single append',
  async run(bench) {
    const dir = bench.tempDir();
    const note =
      'One op = one append of a ~100-byte payload to one growing stream, awaited before the next. ' +
      'Liminal checks expectedSeq in the insert itself (a lone append is one conditional autocommit INSERT … SELECT … WHERE length = expectedSeq; appends arriving in the same tick share one BEGIN IMMEDIATE transaction: group commit); the raw loop inserts blindly; Emmett checks the stream version.';
    await bench.compare({
      id: '1-sqlite-append/full',
      title: 'SQLite single append, equal durability (synchronous=FULL everywhere)',
      note,
      sides: [
        liminalSide(bench, dir, 'FULL'),
        rawSide(bench, dir, 'raw-full', 'FULL', 'WAL, synchronous=FULL, autocommit'),
        await emmettSide(bench, dir, 'emmett-full'),
      ],
      targets: [
        { vs: 'raw better-sqlite3 INSERT', atLeast: 0.8 },
        { vs: `Emmett SQLite ${emmettSqliteVersion} appendToStream`, atLeast: 10 },
      ],
    });
    await bench.compare({
      id: '1-sqlite-append/normal',
      title: 'SQLite single append, synchronous=NORMAL (Liminal and raw; Emmett cannot be configured)',
      note,
      sides: [liminalSide(bench, dir, 'NORMAL'), rawSide(bench, dir, 'raw-normal', 'NORMAL', 'WAL, synchronous=NORMAL, autocommit')],
      targets: [{ vs: 'raw better-sqlite3 INSERT', atLeast: 0.8 }],
    });
    const rawDefault = defaultSynchronous(join(dir, 'probe.db')) as SqliteSynchronous;
    await bench.compare({
      id: '1-sqlite-append/defaults',
      title: 'SQLite single append, each at its default settings',
      note,
      sides: [
        liminalSide(bench, dir, undefined),
        rawSide(bench, dir, 'raw-default', rawDefault, `WAL, synchronous=${rawDefault} (better-sqlite3's WAL default)`),
        await emmettSide(bench, dir, 'emmett-default'),
      ],
      targets: [{ vs: `Emmett SQLite ${emmettSqliteVersion} appendToStream`, atLeast: 10 }],
    });
  },
});
