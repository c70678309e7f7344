// A process appending to many shared streams at once, round after round, to race other processes' group commits.
// Usage: groupRacer.ts <store-url> <streams> <rounds> <order: up|down|odd|even>
// Round r appends to every stream at sequence r, all started together (one group commit), in the given order.
// Prints `ready` once connected, starts on a line on stdin, then prints { appended, conflicts, failures }.
import { openStore, SequenceConflictError } from '@liminal/store';

const [url, streamsText, roundsText, order] = process.argv.slice(2);
const store = await openStore(url!);
const ascending = Array.from({ length: Number(streamsText) }, (_, index) => `g-${String(index).padStart(4, '0')}`);
const streams =
  order === 'down'
    ? [...ascending].reverse()
    : order === 'odd' || order === 'even'
      ? [...ascending.filter((_, index) => index % 2 === (order === 'odd' ? 1 : 0)), ...ascending.filter((_, index) => index % 2 !== (order === 'odd' ? 1 : 0))]
      : ascending;

await store.streamLength(streams[0]!);
console.log('ready');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();

let appended = 0;
let conflicts = 0;
const failures: Record<string, number> = {};
for (let round = 0; round < Number(roundsText); round++) {
  const outcomes = await Promise.allSettled(streams.map((stream) => store.append(stream, new Uint8Array([round]), round)));
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') appended++;
    else if (outcome.reason instanceof SequenceConflictError) conflicts++;
    else {
      const reason = outcome.reason instanceof Error ? `${outcome.reason.name}: ${outcome.reason.message}` : String(outcome.reason);
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
  }
}
await store.close();
console.log(JSON.stringify({ appended, conflicts, failures }));
