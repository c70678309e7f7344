// One of several processes appending to the same streams at once (suite 12c).
// Usage: sharedAppender.ts <liminal|raw> <postgres-url> <schema> <streams>
// Prints `ready` once connected; then for each line `go <seq>` on stdin appends at <seq> to every stream at once
// (all in flight together) and prints `{ appended, conflicts, failures }` as one JSON line.
// liminal: PostgresStore.append (a lost race is a SequenceConflictError);
// raw: one autocommit INSERT per append on a pg pool of the same size (a lost race is a unique violation).
import { createInterface } from 'node:readline';
import { errorMessage, PostgresStore, SequenceConflictError } from '@liminal/store';
import pg from 'pg';
import { payload, payloadBytes } from '../payload.js';

const [side, url, schema, streamsText] = process.argv.slice(2);
const poolSize = 10;
const streams = Array.from({ length: Number(streamsText) }, (_, index) => `shared-${index}`);

let append: (stream: string, seq: number) => Promise<'appended' | 'conflict'>;
let close: () => Promise<void>;
if (side === 'liminal') {
  const store = new PostgresStore(url!, { schema: schema!, poolSize });
  await store.streamLength('warm-up');
  append = (stream, seq) =>
    store.append(stream, payloadBytes, seq).then(
      () => 'appended' as const,
      (error: unknown) => {
        if (error instanceof SequenceConflictError) return 'conflict' as const;
        throw error;
      },
    );
  close = () => store.close();
} else {
  const pool = new pg.Pool({ connectionString: url!, max: poolSize });
  const table = `${pg.escapeIdentifier(schema!)}.entries`;
  await pool.query('SELECT 1');
  append = (stream, seq) =>
    pool.query(`INSERT INTO ${table} (stream, seq, payload) VALUES ($1, $2, $3)`, [stream, seq, payload]).then(
      () => 'appended' as const,
      (error: unknown) => {
        if ((error as { code?: string }).code === '23505') return 'conflict' as const;
        throw error;
      },
    );
  close = () => pool.end();
}

console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const seq = Number(line.split(' ')[1]);
  const tally = { appended: 0, conflicts: 0, failures: [] as string[] };
  const outcomes = await Promise.allSettled(streams.map((stream) => append(stream, seq)));
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') tally.failures.push(errorMessage(outcome.reason));
    else if (outcome.value === 'appended') tally.appended++;
    else tally.conflicts++;
  }
  console.log(JSON.stringify(tally));
}
await close();
