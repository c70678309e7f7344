import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DurableChannel, type ChannelConsumer, type ChannelEnvelope } from '@liminal/durability';
import { PostgresStore, SqliteStore, type DurableStore } from '@liminal/store';
import { dropSchemaOnCleanup } from '../src/postgres.js';
import { defineSuite, type Side } from '../src/suite.js';

const effect = new Uint8Array(Buffer.from('{"charged":4200,"currency":"EUR","order":"order-000000"}'));
const receipt = new Uint8Array(Buffer.from('{"status":"ok"}'));
const LIMINAL = 'Liminal processOnce + one EffectTx append';
const RAW = 'hand-written transaction (effect, receipt, cursor)';

/**
 * Pre-publishes `messages` messages, then processes one per op: claim, run a
 * handler that queues one append, and commit effect + receipt + cursor.
 */
async function liminalSide(store: DurableStore, config: string, messages: number): Promise<Side> {
  const channel = new DurableChannel(store, 'bench-orders', { partitions: 1 });
  const payload = new Uint8Array(64);
  for (let start = 0; start < messages; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, messages - start) }, () => channel.publish(payload, { key: 'k' })));
  }
  const consumer: ChannelConsumer = await channel.consume('billing', 0, { batchSize: 256, owner: 'bench', leaseMs: 30_000 });
  let queue: ChannelEnvelope[] = [];
  return {
    label: LIMINAL,
    config,
    run: async () => {
      if (queue.length === 0) queue = await consumer.poll();
      const envelope = queue.shift();
      if (envelope === undefined) throw new Error(`ran out of the ${messages} pre-published messages; raise the dataset size`);
      const outcome = await consumer.processOnce(envelope, (_, tx) => {
        tx.append('bench-effects', effect);
        return receipt;
      });
      if (outcome.kind !== 'processed') throw new Error(`message ${envelope.offset} was ${outcome.kind}`);
    },
  };
}

const note =
  'One op = one message processed exactly once: Liminal claims the message (one commit), runs a handler that queues one effect append, ' +
  'then commits effect + receipt + cursor advance as one store commit (fenced by the claim). The hand-written side does the same three writes ' +
  '(INSERT effect, INSERT receipt keyed by message id, UPDATE cursor) in one transaction, with no claim, lease or fencing: a second consumer would run the handler again.';

export default defineSuite({
  title: '11. processOnce: one message, one effect, exactly once',
  async run(bench) {
    const messages = bench.scale(40_000, 4_000);
    const dir = bench.tempDir();
    const store = new SqliteStore(join(dir, 'once.db'), { synchronous: 'FULL' });
    bench.cleanup(() => store.close());
    const db = new Database(join(dir, 'once-raw.db'));
    bench.cleanup(() => db.close());
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE effects (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
             CREATE TABLE receipts (message_id TEXT PRIMARY KEY, receipt BLOB NOT NULL) WITHOUT ROWID;
             CREATE TABLE cursors (consumer TEXT PRIMARY KEY, offset INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO cursors VALUES ('billing', 0);`);
    const insertEffect = db.prepare('INSERT INTO effects (payload) VALUES (?)');
    const insertReceipt = db.prepare('INSERT INTO receipts VALUES (?, ?)');
    const advance = db.prepare('UPDATE cursors SET offset = offset + 1 WHERE consumer = ? AND offset = ?');
    const processRaw = db.transaction((offset: number) => {
      insertEffect.run(Buffer.from(effect));
      insertReceipt.run(`m-${offset}`, Buffer.from(receipt));
      if (advance.run('billing', offset).changes !== 1) throw new Error('cursor moved');
    });
    let rawOffset = 0;
    await bench.compare({
      id: '11-process-once/sqlite',
      title: 'processOnce with one EffectTx append vs a hand-written 3-write transaction, SQLite (synchronous=FULL)',
      note,
      targets: [{ vs: RAW, atLeast: 0.8 }],
      sides: [
        await liminalSide(store, 'SqliteStore, WAL, synchronous=FULL', messages),
        { label: RAW, config: 'better-sqlite3, WAL, synchronous=FULL, one transaction', run: () => processRaw(rawOffset++) },
      ],
    });

    const url = bench.postgresUrl;
    const pgComparison = { id: '11-process-once/postgres', title: 'processOnce with one EffectTx append vs a hand-written 3-write transaction, PostgreSQL', note };
    if (!url) {
      bench.skip({ ...pgComparison, sides: [LIMINAL, RAW] }, 'PostgreSQL unreachable');
      return;
    }
    const schema = bench.uniqueName('bench_once');
    const raw = `${schema}_raw`;
    dropSchemaOnCleanup(bench, url, schema);
    dropSchemaOnCleanup(bench, url, raw);
    const pgStore = new PostgresStore(url, { schema, poolSize: 10 });
    bench.cleanup(() => pgStore.close());
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    bench.cleanup(() => pool.end());
    const q = pg.escapeIdentifier(raw);
    await pool.query(`CREATE SCHEMA ${q}`);
    await pool.query(`CREATE TABLE ${q}.effects (seq bigserial PRIMARY KEY, payload bytea NOT NULL)`);
    await pool.query(`CREATE TABLE ${q}.receipts (message_id text COLLATE "C" PRIMARY KEY, receipt bytea NOT NULL)`);
    await pool.query(`CREATE TABLE ${q}.cursors (consumer text PRIMARY KEY, "offset" bigint NOT NULL)`);
    await pool.query(`INSERT INTO ${q}.cursors VALUES ('billing', 0)`);
    let pgOffset = 0;
    await bench.compare({
      ...pgComparison,
      targets: [{ vs: RAW, atLeast: 0.8 }],
      sides: [
        await liminalSide(pgStore, 'PostgresStore, pool 10', bench.scale(10_000, 2_000)),
        {
          label: RAW,
          config: 'pg pool 10, BEGIN … COMMIT',
          run: async () => {
            const offset = pgOffset++;
            const client = await pool.connect();
            try {
              await client.query('BEGIN');
              await client.query(`INSERT INTO ${q}.effects (payload) VALUES ($1)`, [Buffer.from(effect)]);
              await client.query(`INSERT INTO ${q}.receipts VALUES ($1, $2)`, [`m-${offset}`, Buffer.from(receipt)]);
              const moved = await client.query(`UPDATE ${q}.cursors SET "offset" = "offset" + 1 WHERE consumer = 'billing' AND "offset" = $1`, [offset]);
              if (moved.rowCount !== 1) throw new Error('cursor moved');
              await client.query('COMMIT');
            } catch (error) {
              await client.query('ROLLBACK');
              throw error;
            } finally {
              client.release();
            }
          },
        },
      ],
    });
  },
});
