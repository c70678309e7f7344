import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DedupCache } from '@liminal/durability';
import { PostgresStore, SqliteStore, type DurableStore } from '@liminal/store';
import { dropSchemaOnCleanup } from '../src/postgres.js';
import { defineSuite, type Side } from '../src/suite.js';

const receipt = new Uint8Array(Buffer.from('{"status":"ok","id":"receipt-0000000000"}'));
const receiptBuffer = Buffer.from(receipt);

function liminalSide(store: DurableStore, config: string): Side {
  const cache = new DedupCache(store, 'bench');
  let key = 0;
  return {
    label: 'Liminal DedupCache claimOrGet + completeReceipt',
    config,
    run: async () => {
      const id = `key-${key++}`;
      const now = Date.now();
      const decision = await cache.claimOrGet(id, now, { owner: 'bench', leaseMs: 30_000 });
      if (decision.kind !== 'claimed') throw new Error(`fresh key ${id} was ${decision.kind}`);
      await cache.completeReceipt(id, receipt, { token: decision.token, nowMs: now });
    },
  };
}

const note =
  'One op = a fresh idempotency key claimed (owner + lease + fencing token), then completed with a ~40-byte receipt (two durable commits on both sides). ' +
  'The hand-written side is the usual idempotency table: INSERT … ON CONFLICT DO NOTHING to claim, UPDATE to store the receipt.';

export default defineSuite({
  title: '7. Dedup: claim and complete one key',
  async run(bench) {
    const dir = bench.tempDir();
    const store = new SqliteStore(join(dir, 'dedup.db'), { synchronous: 'FULL' });
    bench.cleanup(() => store.close());
    const db = new Database(join(dir, 'dedup-raw.db'));
    bench.cleanup(() => db.close());
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE dedup (key TEXT PRIMARY KEY, claimed_at INTEGER NOT NULL, receipt BLOB) WITHOUT ROWID');
    const claim = db.prepare('INSERT INTO dedup (key, claimed_at) VALUES (?, ?) ON CONFLICT DO NOTHING');
    const complete = db.prepare('UPDATE dedup SET receipt = ? WHERE key = ? AND receipt IS NULL');
    let rawKey = 0;
    await bench.compare({
      id: '7-dedup/sqlite',
      title: 'Dedup claim + complete per key, SQLite (synchronous=FULL)',
      note,
      targets: [{ vs: 'hand-written idempotency table', atLeast: 1.0 }],
      sides: [
        liminalSide(store, 'SqliteStore, WAL, synchronous=FULL'),
        {
          label: 'hand-written idempotency table',
          config: 'better-sqlite3, WAL, synchronous=FULL, autocommit',
          run: () => {
            const id = `key-${rawKey++}`;
            if (claim.run(id, Date.now()).changes !== 1) throw new Error(`fresh key ${id} was taken`);
            complete.run(receiptBuffer, id);
          },
        },
      ],
    });

    const url = bench.postgresUrl;
    const pgComparison = { id: '7-dedup/postgres', title: 'Dedup claim + complete per key, PostgreSQL', note };
    if (!url) {
      bench.skip({ ...pgComparison, sides: ['Liminal DedupCache claimOrGet + completeReceipt', 'hand-written idempotency table'] }, 'PostgreSQL unreachable');
      return;
    }
    const schema = bench.uniqueName('bench_dedup');
    dropSchemaOnCleanup(bench, url, schema);
    dropSchemaOnCleanup(bench, url, `${schema}_raw`);
    const pgStore = new PostgresStore(url, { schema, poolSize: 10 });
    bench.cleanup(() => pgStore.close());
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    bench.cleanup(() => pool.end());
    const table = `${pg.escapeIdentifier(`${schema}_raw`)}.dedup`;
    await pool.query(`CREATE SCHEMA ${pg.escapeIdentifier(`${schema}_raw`)}`);
    await pool.query(`CREATE TABLE ${table} (key text COLLATE "C" PRIMARY KEY, claimed_at bigint NOT NULL, receipt bytea)`);
    let pgKey = 0;
    await bench.compare({
      ...pgComparison,
      targets: [{ vs: 'hand-written idempotency table', atLeast: 1.0 }],
      sides: [
        liminalSide(pgStore, 'PostgresStore, pool 10'),
        {
          label: 'hand-written idempotency table',
          config: 'pg pool 10, autocommit',
          run: async () => {
            const id = `key-${pgKey++}`;
            const claimed = await pool.query(`INSERT INTO ${table} (key, claimed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [id, Date.now()]);
            if (claimed.rowCount !== 1) throw new Error(`fresh key ${id} was taken`);
            await pool.query(`UPDATE ${table} SET receipt = $1 WHERE key = $2 AND receipt IS NULL`, [receiptBuffer, id]);
          },
        },
      ],
    });
  },
});
