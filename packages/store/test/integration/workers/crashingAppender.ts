// A child process appending to a SQLite store until it is killed. Usage:
//   crashingAppender.ts <sqlite-path> <writers>
// Runs <writers> concurrent loops, loop k appending to stream `log-k` (so
// their appends are group-committed together). Prints `k sequence` on its own
// line only after that append resolved (was acknowledged).
import { writeSync } from 'node:fs';
import { SqliteStore } from '@liminal/store';

const [path, writers] = process.argv.slice(2);
const store = new SqliteStore(path!);

await Promise.all(
  Array.from({ length: Number(writers) }, async (_, writer) => {
    const stream = `log-${writer}`;
    for (let sequence = await store.streamLength(stream); ; sequence++) {
      await store.append(stream, new TextEncoder().encode(`entry-${sequence}`), sequence);
      // Synchronous write: the parent must never see a line before the append returned, nor miss one after.
      writeSync(1, `${writer} ${sequence}\n`);
    }
  }),
);
