// A child process racing others on one store. Usage:
//   racer.ts <store-url> append <stream> <worker-id> <count>   appends <count> entries, retrying conflicts
//   racer.ts <store-url> cas <key> <worker-id> <count>          increments the counter <count> times with cas, retrying conflicts
// Both read the current length / value first, then retry each conflict from the `actual` it reports.
// Prints one JSON line: { successes, conflicts }.
import { CasConflictError, openStore, SequenceConflictError } from '@liminal/store';

const [url, mode, name, workerId, countText] = process.argv.slice(2);
const count = Number(countText);
const store = await openStore(url!);
let conflicts = 0;
let successes = 0;

// Read once, then let each conflict say what the state is now (its `actual`), as a real client would.
let known = mode === 'append' ? await store.streamLength(name!) : ((await store.readValue(name!)) ?? 0);
while (successes < count) {
  try {
    if (mode === 'append') await store.append(name!, new TextEncoder().encode(`${workerId}:${successes}`), known);
    else await store.cas(name!, known, known + 1);
    known++;
    successes++;
  } catch (error) {
    if (!(error instanceof SequenceConflictError || error instanceof CasConflictError)) throw error;
    known = error.actual;
    conflicts++;
  }
}

await store.close();
console.log(JSON.stringify({ successes, conflicts }));
