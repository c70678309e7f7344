// The example from packages/store/README.md. Run: pnpm --filter @liminal/store example
import { openStore, SequenceConflictError } from '@liminal/store';

const store = await openStore(process.argv[2] ?? 'memory:');
const encode = (text: string) => new TextEncoder().encode(text);

// Sequences start at 0; expectedSeq is the stream's current length.
const length = await store.streamLength('orders:42');
await store.append('orders:42', encode('created'), length);
await store.appendMany('orders:42', [encode('paid'), encode('shipped')], length + 1);

try {
  await store.append('orders:42', encode('stale writer'), length); // someone else already appended
} catch (error) {
  if (!(error instanceof SequenceConflictError)) throw error;
  console.log(`fenced: expected ${error.expected}, stream is at ${error.actual}`);
}

for (const { sequence, payload } of await store.readFrom('orders:42', 0, 100)) {
  console.log(sequence, new TextDecoder().decode(payload));
}

// Counters: absent reads as undefined, and cas treats absent as 0.
await store.cas('orders:processed', 0, 1);
console.log('processed =', await store.readValue('orders:processed'));
await store.close();
