// A child process appending to a SQLite store until it is killed. Usage:
//   crashingAppender.ts <sqlite-path> <writers> [append|clientLifetime]
// Runs <writers> concurrent loops, loop k appending to stream `log-k` (so
// their appends are group-committed together), or with `clientLifetime` each
// entry as a `commit` of that durability (written, not fsynced). Prints
// `k sequence` on its own line only after that write resolved (was acknowledged).
import { writeSync } from 'node:fs';
import { SqliteStore } from '@liminal/store';

const [path, writers, mode = 'append'] = process.argv.slice(2);
const store = new SqliteStore(path!);

await Promise.all(
  Array.from({ length: Number(writers) }, async (_, writer) => {
    const stream = `log-${writer}`;
    for (let sequence = await store.streamLength(stream); ; sequence++) {
      const payload = new TextEncoder().encode(`entry-${sequence}`);
      if (mode === 'clientLifetime') await store.commit([{ op: 'append', stream, payloads: [payload], expectedSeq: sequence }], { durability: 'clientLifetime' });
      else await store.append(stream, payload, sequence);
      // Synchronous write: the parent must never see a line before the append returned, nor miss one after.
      writeSync(1, `${writer} ${sequence}\n`);
    }
  }),
);
