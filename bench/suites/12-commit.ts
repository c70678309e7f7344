import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PostgresStore, SqliteStore, type WriteOp } from '@liminal/store';
import Database from 'better-sqlite3';
import pg from 'pg';
import { payload, payloadBytes } from '../src/payload.js';
import { dropSchemaOnCleanup } from '../src/postgres.js';
import { RawPg } from '../src/baselines/rawPg.js';
import { defineSuite, type BenchContext } from '../src/suite.js';
import { sourceNodeArgs } from '@liminal/testkit';

/**
 * The commit measured on every side: 2 appends, 1 cas, 1 check (a fencing
 * epoch that stays 0). Every side starts with the epoch counter stored, as a
 * lease epoch is: checking an absent counter costs the store two more statements.
 */
function fourOps(round: number): WriteOp[] {
  return [
    { op: 'append', stream: 'orders', payloads: [payloadBytes], expectedSeq: round },
    { op: 'append', stream: 'audit', payloads: [payloadBytes], expectedSeq: round },
    { op: 'cas', key: 'cursor', expected: round, next: round + 1 },
    { op: 'check', key: 'epoch', equals: 0 },
  ];
}

const fourOpsNote =
  'One op = one commit of 4 ops (append to 2 streams, cas a counter, check another), awaited before the next. ' +
  'The raw side writes the same rows in one hand-written transaction with the same conditions ' +
  '(each append checks the stream length, the cas is a conditional UPDATE, the check reads the counter), and throws on a failed one.';

/** better-sqlite3 by hand: BEGIN IMMEDIATE, the same checks and writes as SqliteStore.commit, COMMIT. */
function rawSqliteCommit(path: string): { run: (round: number) => void; close: () => void } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS entries (stream TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (stream, seq)) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
           INSERT INTO counters (key, value) VALUES ('epoch', 0);`);
  const length = db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS length FROM entries WHERE stream = ?');
  const insert = db.prepare('INSERT INTO entries (stream, seq, payload) VALUES (?, ?, ?)');
  const read = db.prepare('SELECT value FROM counters WHERE key = ?');
  const write = db.prepare('INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const appendAt = (stream: string, seq: number) => {
    if ((length.get(stream) as { length: number }).length !== seq) throw new Error(`conflict on ${stream}`);
    insert.run(stream, seq, payload);
  };
  const counter = (key: string) => (read.get(key) as { value: number } | undefined)?.value ?? 0;
  const commit = db.transaction((round: number) => {
    appendAt('orders', round);
    appendAt('audit', round);
    if (counter('cursor') !== round) throw new Error('cas conflict');
    write.run('cursor', round + 1);
    if (counter('epoch') !== 0) throw new Error('check failed');
  });
  return { run: (round) => commit.immediate(round), close: () => db.close() };
}

/** pg by hand: BEGIN, the same writes (the primary key refuses a taken sequence), a conditional UPDATE, a locked read, COMMIT. */
async function rawPgCommit(raw: RawPg): Promise<(round: number) => Promise<void>> {
  const schema = pg.escapeIdentifier(raw.schema);
  await raw.pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.counters (key text COLLATE "C" PRIMARY KEY, value bigint NOT NULL)`);
  await raw.pool.query(`INSERT INTO ${schema}.counters (key, value) VALUES ('cursor', 0), ('epoch', 0)`);
  return async (round) => {
    const client = await raw.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${schema}.entries (stream, seq, payload) VALUES ('orders', $1, $2)`, [round, payload]);
      await client.query(`INSERT INTO ${schema}.entries (stream, seq, payload) VALUES ('audit', $1, $2)`, [round, payload]);
      const cas = await client.query(`UPDATE ${schema}.counters SET value = $2 WHERE key = 'cursor' AND value = $1`, [round, round + 1]);
      if (cas.rowCount !== 1) throw new Error('cas conflict');
      const check = await client.query<{ value: string }>(`SELECT value FROM ${schema}.counters WHERE key = 'epoch' FOR SHARE`);
      if (Number(check.rows[0]?.value) !== 0) throw new Error('check failed');
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  };
}

interface Tally {
  appended: number;
  conflicts: number;
  failures: string[];
}

/** `processes` children of `sharedAppender.ts`, told to append at the same sequence together. */
class SharedAppenders {
  readonly total: Tally = { appended: 0, conflicts: 0, failures: [] };
  #seq = 0;

  private constructor(private readonly children: readonly { child: ChildProcess; lines: Interface }[]) {}

  static async start(bench: BenchContext, args: readonly string[], processes: number): Promise<SharedAppenders> {
    const file = fileURLToPath(new URL('../src/children/sharedAppender.ts', import.meta.url));
    const children = Array.from({ length: processes }, () => {
      const child = spawn(process.execPath, [...sourceNodeArgs, file, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      bench.cleanup(() => child.stdin?.end());
      return { child, lines: createInterface({ input: child.stdout! }) };
    });
    const appenders = new SharedAppenders(children);
    await Promise.all(appenders.children.map(({ lines }) => nextLine(lines)));
    return appenders;
  }

  /** One round: every process appends at the next sequence to every stream at once; one winner per stream. */
  async round(): Promise<void> {
    const seq = this.#seq++;
    for (const { child } of this.children) child.stdin!.write(`go ${seq}\n`);
    for (const line of await Promise.all(this.children.map(({ lines }) => nextLine(lines)))) {
      const tally = JSON.parse(line) as Tally;
      this.total.appended += tally.appended;
      this.total.conflicts += tally.conflicts;
      this.total.failures.push(...tally.failures);
    }
  }
}

function nextLine(lines: Interface): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('shared appender exited'));
    lines.once('close', onClose);
    lines.once('line', (line) => {
      lines.off('close', onClose);
      resolve(line);
    });
  });
}

export default defineSuite({
  title: '12. Atomic commit',
  async run(bench) {
    // 12a. SQLite commit of 4 ops.
    {
      const dir = bench.tempDir();
      const store = new SqliteStore(join(dir, 'commit.db'), { synchronous: 'FULL' });
      bench.cleanup(() => store.close());
      await store.cas('epoch', 0, 0);
      const raw = rawSqliteCommit(join(dir, 'commit-raw.db'));
      bench.cleanup(() => raw.close());
      let liminalRound = 0;
      let rawRound = 0;
      await bench.compare({
        id: '12a-commit/sqlite',
        title: 'SQLite commit of 4 ops (2 appends, 1 cas, 1 check), synchronous=FULL on both sides',
        note: fourOpsNote,
        sides: [
          {
            label: 'Liminal SqliteStore.commit',
            config: 'WAL, synchronous=FULL',
            run: async () => {
              await store.commit(fourOps(liminalRound));
              liminalRound++;
            },
          },
          { label: 'raw better-sqlite3 transaction', config: 'WAL, synchronous=FULL, BEGIN IMMEDIATE', run: () => raw.run(rawRound++) },
        ],
        targets: [{ vs: 'raw better-sqlite3 transaction', atLeast: 0.8 }],
      });
    }

    const url = bench.postgresUrl;
    const pgCommitRow = {
      id: '12b-commit/postgres',
      title: 'PostgreSQL commit of 4 ops (2 appends, 1 cas, 1 check), server defaults',
      note: fourOpsNote,
      targets: [{ vs: 'raw pg transaction', atLeast: 0.8 }],
    };
    const sharedRow = {
      id: '12c-shared-streams/postgres',
      title: '2 processes × 64 concurrent appenders on the same 64 streams (PostgreSQL)',
      note:
        'One op = one append attempt. A call: both processes append at the same sequence to each of the 64 streams at once ' +
        '(128 attempts, one winner per stream); every loser must be a SequenceConflictError (raw: a unique violation), ' +
        'anything else is counted as a failure. Each process has a pool of 10; the raw side is one autocommit INSERT per attempt.',
    };
    if (!url) {
      bench.skip({ ...pgCommitRow, sides: ['Liminal PostgresStore.commit', 'raw pg transaction'] }, 'PostgreSQL unreachable');
      bench.skip({ ...sharedRow, sides: ['Liminal PostgresStore.append, 2 processes', 'raw pg INSERT, 2 processes'] }, 'PostgreSQL unreachable');
      return;
    }

    // 12b. PostgreSQL commit of 4 ops.
    {
      const schema = bench.uniqueName('bench_pg_commit');
      dropSchemaOnCleanup(bench, url, schema);
      dropSchemaOnCleanup(bench, url, `${schema}_raw`);
      const store = new PostgresStore(url, { schema, poolSize: 10 });
      const raw = new RawPg(url, `${schema}_raw`, 10);
      bench.cleanup(() => store.close());
      bench.cleanup(() => raw.close());
      await raw.ready();
      const rawCommit = await rawPgCommit(raw);
      await store.cas('epoch', 0, 0);
      let liminalRound = 0;
      let rawRound = 0;
      await bench.compare({
        ...pgCommitRow,
        sides: [
          {
            label: 'Liminal PostgresStore.commit',
            config: 'pool 10 (default)',
            run: async () => {
              await store.commit(fourOps(liminalRound));
              liminalRound++;
            },
          },
          { label: 'raw pg transaction', config: 'pool 10, BEGIN … COMMIT', run: () => rawCommit(rawRound++) },
        ],
      });
    }

    // 12c. Group commit across processes on shared streams.
    {
      const streams = 64;
      const schema = bench.uniqueName('bench_pg_shared');
      dropSchemaOnCleanup(bench, url, schema);
      dropSchemaOnCleanup(bench, url, `${schema}_raw`);
      const setup = new RawPg(url, `${schema}_raw`, 1);
      await setup.ready();
      await setup.close();
      const liminal = await SharedAppenders.start(bench, ['liminal', url, schema, String(streams)], 2);
      const raw = await SharedAppenders.start(bench, ['raw', url, `${schema}_raw`, String(streams)], 2);
      await bench.compare({
        ...sharedRow,
        sides: [
          { label: 'Liminal PostgresStore.append, 2 processes', config: '2 × pool 10', opsPerCall: 2 * streams, run: () => liminal.round() },
          { label: 'raw pg INSERT, 2 processes', config: '2 × pool 10, autocommit', opsPerCall: 2 * streams, run: () => raw.round() },
        ],
      });
      const { appended, conflicts, failures } = liminal.total;
      bench.log(`12c Liminal: ${appended} appended, ${conflicts} SequenceConflictError, ${failures.length} other failures ${JSON.stringify(failures.slice(0, 3))}`);
      bench.log(`12c raw: ${raw.total.appended} appended, ${raw.total.conflicts} unique violations, ${raw.total.failures.length} other failures`);
      bench.record({
        id: '12c-shared-streams/postgres/failures',
        title: 'Liminal appends that failed other than with SequenceConflictError (2 processes × 64 on the same 64 streams)',
        value: failures.length,
        unit: 'failures',
        atMost: 0,
        note: `of ${appended + conflicts + failures.length} attempts: ${appended} appended, ${conflicts} SequenceConflictError`,
      });
    }
  },
});
