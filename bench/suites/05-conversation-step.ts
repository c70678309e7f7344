import { join } from 'node:path';
import { DurableConversation } from '@liminal/durability';
import { PostgresStore, SqliteStore, type DurableStore } from '@liminal/store';
import { dbosVersion, launchDbos } from '@liminal/bench-peer-dbos';
import { payloadBytes } from '../src/payload.js';
import { dropSchemaOnCleanup, scratchDatabase } from '../src/postgres.js';
import { defineSuite, type Side } from '../src/suite.js';

const steps = 50;
const poolSize = 10;
const dbosLabel = `DBOS ${dbosVersion} workflow step (runStep)`;
const output = payloadBytes;
const outputText = Buffer.from(payloadBytes).toString('utf8');

/**
 * One call = one message through a durable conversation: received, started,
 * `steps` × recordStepCompleted, finished. The store's streams grow across
 * calls exactly like a long-lived conversation's would.
 */
function liminalSide(store: DurableStore, label: string, config: string): Side {
  const conversation = DurableConversation.create(store, 'bench-conversation');
  let message = 0;
  return {
    label,
    config,
    opsPerCall: steps,
    run: async () => {
      const id = `m${message++}`;
      await conversation.receiveMessage(id, Date.now());
      await conversation.recordProcessingStarted(id);
      for (let step = 0; step < steps; step++) await conversation.recordStepCompleted(id, step, output);
      await conversation.recordProcessingFinished(id);
    },
  };
}

export default defineSuite({
  title: '5. Durable conversation step vs DBOS step checkpoint',
  async run(bench) {
    const note =
      `One call = one message processed in ${steps} checkpointed steps, each step output ~100 bytes; ops/s counts steps. ` +
      `Liminal also records received/started/finished (3 extra appends per message); DBOS also writes the workflow's status row and result. ` +
      'Both run on the same PostgreSQL at server defaults (fsync=on, synchronous_commit=on).';
    const comparison = {
      id: '5-conversation-step/postgres',
      title: `recordStepCompleted vs ${dbosLabel}, PostgreSQL`,
      note,
    };
    const url = bench.postgresUrl;
    if (!url) {
      bench.skip({ ...comparison, sides: ['Liminal recordStepCompleted (PostgresStore)', dbosLabel] }, 'PostgreSQL unreachable');
    } else {
      const schema = bench.uniqueName('bench_step');
      dropSchemaOnCleanup(bench, url, schema);
      const store = new PostgresStore(url, { schema, poolSize });
      bench.cleanup(() => store.close());
      const dbos = await launchDbos(await scratchDatabase(bench, url, 'bench_dbos'), poolSize);
      bench.cleanup(() => dbos.shutdown());
      await bench.compare({
        ...comparison,
        sides: [
          liminalSide(store, 'Liminal recordStepCompleted (PostgresStore)', `pool ${poolSize}, snapshots every 1024 events (default)`),
          {
            label: dbosLabel,
            config: `system database pool ${poolSize}, its own scratch database`,
            opsPerCall: steps,
            run: () => dbos.runWorkflow(steps, outputText),
          },
        ],
      });
    }

    const dir = bench.tempDir();
    const sqlite = new SqliteStore(join(dir, 'steps.db'), { synchronous: 'FULL' });
    bench.cleanup(() => sqlite.close());
    const sides: Side[] = [liminalSide(sqlite, 'Liminal recordStepCompleted (SqliteStore)', 'WAL, synchronous=FULL')];
    await bench.compare({
      id: '5-conversation-step/sqlite',
      title: 'recordStepCompleted on the embedded store (no SQLite peer: DBOS needs PostgreSQL)',
      note: `${note.split('; ops/s')[0]}; ops/s counts steps. Shown for scale only.`,
      sides,
    });
  },
});
