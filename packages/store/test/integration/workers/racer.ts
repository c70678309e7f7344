// A child process racing others on one store. Usage:
//   racer.ts <store-url> append <stream> <worker-id> <count>   appends <count> entries, read-then-append, retrying conflicts
//   racer.ts <store-url> cas <key> <worker-id> <count>          increments the counter <count> times with cas, retrying conflicts
// Prints one JSON line: { successes, conflicts }.
import { CasConflictError, openStore, SequenceConflictError } from '@liminal/store';

const [url, mode, name, workerId, countText] = process.argv.slice(2);
const count = Number(countText);
const store = await openStore(url!);
let conflicts = 0;
let successes = 0;

while (successes < count) {
  try {
    if (mode === 'append') {
      const length = await store.streamLength(name!);
      await store.append(name!, new TextEncoder().encode(`${workerId}:${successes}`), length);
    } else {
      const value = (await store.readValue(name!)) ?? 0;
      await store.cas(name!, value, value + 1);
    }
    successes++;
  } catch (error) {
    if (!(error instanceof SequenceConflictError || error instanceof CasConflictError)) throw error;
    conflicts++;
  }
}

await store.close();
console.log(JSON.stringify({ successes, conflicts }));
