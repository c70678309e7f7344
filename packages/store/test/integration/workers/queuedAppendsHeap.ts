// Makes <count> appends of distinct <bytes>-byte payloads in one synchronous loop (none awaited) and
// reports how much memory the process held meanwhile. Run with --expose-gc.
// Usage: queuedAppendsHeap.ts <store-url> <count> <bytes> [maxQueuedWrites]
// Prints { held, retained, appended, failed }: bytes (heap + array buffers, after a forced GC) more than
// before the loop, once every call was made, and once every call had settled.
import { openStore, SqliteStore, type DurableStore } from '@liminal/store';

const [url, countText, bytesText, maxQueuedText] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const store: DurableStore =
  maxQueuedText !== undefined && url!.startsWith('sqlite:')
    ? new SqliteStore(url!.slice('sqlite:'.length), { synchronous: 'NORMAL', maxQueuedWrites: Number(maxQueuedText) })
    : await openStore(url!);
const [count, bytes] = [Number(countText), Number(bytesText)];
const streams = 1_000;
await store.streamLength('warm-up');

/** After a forced GC; a second one after a macrotask frees buffers whose last reference was a finished callback. */
const used = async () => {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};
const before = await used();
let appended = 0;
let failed = 0;
let allSettled = () => {};
const done = new Promise<void>((resolve) => (allSettled = resolve));
const settle = (outcome: 'appended' | 'failed') => {
  if (outcome === 'appended') appended++;
  else failed++;
  if (appended + failed === count) allSettled();
};
for (let i = 0; i < count; i++) {
  // A fresh payload the caller drops at once, and no promise kept: only the store can keep them alive.
  const payload = new Uint8Array(bytes).fill(i & 0xff);
  store.append(`s${i % streams}`, payload, Math.floor(i / streams)).then(() => settle('appended'), () => settle('failed'));
}
const held = (await used()) - before;
await done;
const retained = (await used()) - before;
await store.close();
console.log(JSON.stringify({ held, retained, appended, failed }));
