import { join } from 'node:path';
import { codec, DurableConversation, snapshotStreamFor, type ConversationEvent } from '@liminal/durability';
import { PostgresStore, SqliteStore, type DurableStore, type StoredEntry } from '@liminal/store';
import { payloadBytes } from '../src/payload.js';
import { dropSchemaOnCleanup } from '../src/postgres.js';
import { defineSuite, type BenchContext } from '../src/suite.js';

const totalEvents = 100_000;
const stepsPerMessage = 97;
/** received + started + steps + finished */
const eventsPerMessage = stepsPerMessage + 3;

/** A realistic log: 1,000 messages, each received, started, 97 steps, finished. */
function* conversationEvents(): Generator<ConversationEvent> {
  for (let message = 0; message < totalEvents / eventsPerMessage; message++) {
    const messageId = `message-${message}`;
    yield { kind: 'messageReceived', messageId, receivedAt: 1_700_000_000_000 + message };
    yield { kind: 'processingStarted', messageId };
    for (let stepIndex = 0; stepIndex < stepsPerMessage; stepIndex++) {
      yield { kind: 'stepCompleted', messageId, stepIndex, output: payloadBytes };
    }
    yield { kind: 'processingFinished', messageId };
  }
}

async function writeLog(store: DurableStore, id: string): Promise<void> {
  let batch: Uint8Array[] = [];
  let seq = 0;
  for (const event of conversationEvents()) {
    batch.push(codec.encode(event));
    if (batch.length === 1000) {
      await store.appendMany(id, batch, seq);
      seq += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await store.appendMany(id, batch, seq);
}

/** Records the highest heapUsed seen after each batch read, i.e. while recovery holds its data. */
function heapWatching(store: DurableStore, onSample: (heapUsed: number) => void): DurableStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'readFrom') {
        return async (stream: string, fromSeq: number, limit: number): Promise<StoredEntry[]> => {
          const entries = await target.readFrom(stream, fromSeq, limit);
          onSample(process.memoryUsage().heapUsed);
          return entries;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the bench child must run with --expose-gc');
  gc();
  gc();
}

/** Writes both logs, checks each recovers the intended way, then compares the two recoveries. */
async function compareRecoveries(bench: BenchContext, store: DurableStore, engine: string, storeName: string): Promise<void> {
  const started = performance.now();
  await writeLog(store, 'replayed');
  await writeLog(store, 'snapshotted');
  // A conversation writes its snapshot as it appends; one more event after
  // the 100,000 stores a snapshot covering the whole log.
  const writer = await DurableConversation.recover(store, 'snapshotted', { snapshots: { kind: 'everyEvents', events: 1 } });
  await writer.receiveMessage('last', Date.now());
  bench.log(`${engine}: wrote 2 × ${totalEvents} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const check = await DurableConversation.recover(store, 'snapshotted');
  if (check.recoveredFrom.kind !== 'snapshot') throw new Error(`expected a snapshot recovery, got ${check.recoveredFrom.kind}`);
  const [snapshot] = await store.readFrom(snapshotStreamFor('snapshotted'), 0, 1);
  bench.record({
    id: `6-recovery/snapshot-size/${engine}`,
    title: `Size of the snapshot covering the ${totalEvents.toLocaleString('en-US')}-event log (${storeName})`,
    value: (snapshot?.payload.length ?? 0) / 1024,
    unit: 'KiB',
    note: 'Every message of this log is finished, so the snapshot keeps only each message\'s flags and last step output.',
  });
  const replayCheck = await DurableConversation.recover(store, 'replayed');
  if (replayCheck.recoveredFrom.kind !== 'replay' || replayCheck.expectedSeq !== totalEvents) {
    throw new Error('expected a full replay of every event');
  }

  await bench.compare({
    id: `6-recovery/${engine}`,
    title: `DurableConversation.recover: from a snapshot vs full replay of ${totalEvents.toLocaleString('en-US')} events (${storeName})`,
    note:
      `The log: ${totalEvents / eventsPerMessage} messages × (received, started, ${stepsPerMessage} steps with ~100-byte outputs, finished). ` +
      'One op = one complete recovery; the ratio is the speed-up of snapshot recovery. The snapshot covers the whole log plus one event.',
    sides: [
      { label: 'recover from snapshot', config: `${storeName}, snapshot stream present`, run: () => DurableConversation.recover(store, 'snapshotted') },
      { label: 'full replay', config: `${storeName}, no snapshot, batches of 1024`, run: () => DurableConversation.recover(store, 'replayed') },
    ],
    targets: [{ vs: 'full replay', atLeast: 20 }],
  });
}

export default defineSuite({
  title: '6. Recovery of one conversation with 100,000 events',
  async run(bench) {
    const dir = bench.tempDir();
    const store = new SqliteStore(join(dir, 'recovery.db'), { synchronous: 'FULL' });
    bench.cleanup(() => store.close());
    await compareRecoveries(bench, store, 'sqlite', 'SqliteStore');

    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const watched = heapWatching(store, (heapUsed) => {
      peak = Math.max(peak, heapUsed);
    });
    const recovered = await DurableConversation.recover(watched, 'replayed');
    collectGarbage();
    const retained = process.memoryUsage().heapUsed - before;
    bench.record({
      id: '6-recovery/heap-peak',
      title: `Heap growth while replaying ${totalEvents.toLocaleString('en-US')} events (peak, sampled after each batch read)`,
      value: (peak - before) / 2 ** 20,
      unit: 'MB',
      atMost: 50,
      note: 'heapUsed after each readFrom batch minus heapUsed after a forced GC before recovery; includes garbage not yet collected.',
    });
    bench.record({
      id: '6-recovery/heap-retained',
      title: 'Heap retained by the recovered conversation (after GC)',
      value: retained / 2 ** 20,
      unit: 'MB',
      note: `The replayed state (SQLite) of ${recovered.expectedSeq.toLocaleString('en-US')} events kept alive after recovery (a finished message keeps only its last step output).`,
    });

    // The PostgreSQL variant writes and replays 200,000 more events: full runs only, to keep --quick under 2 minutes.
    const url = bench.postgresUrl;
    if (!url || bench.quick) return;
    const schema = bench.uniqueName('bench_recovery');
    dropSchemaOnCleanup(bench, url, schema);
    const pgStore = new PostgresStore(url, { schema });
    bench.cleanup(() => pgStore.close());
    await compareRecoveries(bench, pgStore, 'postgres', 'PostgresStore');
  },
});
