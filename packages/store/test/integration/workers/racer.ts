// A child process racing others on one store. Usage:
//   racer.ts <store-url> append <stream> <worker-id> <count>   appends <count> entries, retrying conflicts
//   racer.ts <store-url> cas <key> <worker-id> <count>          increments the counter <count> times with cas, retrying conflicts
// Both read the current length / value first, then retry each conflict from the `actual` it reports.
// Prints `ready` once connected, starts when it reads a line on stdin, then prints one JSON line: { successes, conflicts }.
import { setTimeout as sleep } from 'node:timers/promises';
import { CasConflictError, openStore, SequenceConflictError } from '@liminal/store';

const [url, mode, name, workerId, countText] = process.argv.slice(2);
const count = Number(countText);
const store = await openStore(url!);
let conflicts = 0;
let successes = 0;

// Connected; wait for the parent's `go` (see runTogether) so every worker starts at the same moment.
await store.streamLength(name!);
console.log('ready');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();

// Read once, then let each conflict say what the state is now (its `actual`), as a real client would.
let known = mode === 'append' ? await store.streamLength(name!) : ((await store.readValue(name!)) ?? 0);
let streak = 0;
while (successes < count) {
  try {
    if (mode === 'append') await store.append(name!, new TextEncoder().encode(`${workerId}:${successes}`), known);
    else await store.cas(name!, known, known + 1);
    known++;
    successes++;
    streak = 0;
  } catch (error) {
    if (!(error instanceof SequenceConflictError || error instanceof CasConflictError)) throw error;
    known = error.actual;
    conflicts++;
    // Jittered exponential backoff (at most ~16 ms): on a loaded machine, workers retrying at
    // once mostly collide again, and every lost round costs two round trips to PostgreSQL.
    streak++;
    await sleep(Math.random() * Math.min(2 ** streak, 16));
  }
}

await store.close();
console.log(JSON.stringify({ successes, conflicts }));
