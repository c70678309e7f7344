// Watches a prefix from its own process and prints the first name it is woken for that matches.
// Usage: watchOnce.ts <store-url> <prefix> <wanted-stream>; prints `ready` once watching, then the name.
import { openStore } from '@liminal/store';

const [url, prefix, wanted] = process.argv.slice(2);
const store = await openStore(url!);
const names = store.watch(prefix!);
console.log('ready');
for await (const name of names) {
  if (name === wanted) {
    console.log(name);
    break;
  }
}
await store.close();
