// A child process appending to a SQLite store until it is killed. Usage:
//   crashingAppender.ts <sqlite-path> <stream>
// Prints each sequence on its own line only after append() resolved (acknowledged).
import { writeSync } from 'node:fs';
import { SqliteStore } from '@liminal/store';

const [path, stream] = process.argv.slice(2);
const store = new SqliteStore(path!);

for (let sequence = await store.streamLength(stream!); ; sequence++) {
  await store.append(stream!, new TextEncoder().encode(`entry-${sequence}`), sequence);
  // Synchronous write: the parent must never see a line before the append returned, nor miss one after.
  writeSync(1, `${sequence}\n`);
}
