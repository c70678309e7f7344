// Appends one entry to a stream from its own process. Usage: appendOnce.ts <store-url> <stream>
import { openStore } from '@liminal/store';

const [url, stream] = process.argv.slice(2);
const store = await openStore(url!);
await store.append(stream!, new TextEncoder().encode(`from ${process.pid}`), await store.streamLength(stream!));
await store.close();
