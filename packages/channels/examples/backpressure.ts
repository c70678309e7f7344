import { BackpressureError, ChannelRegistry } from '@liminal/channels';

const registry = new ChannelRegistry();
const ticks = registry.create<number>({ name: 'ticks', mode: 'ephemeral' });

let release!: () => void;
const slow = new Promise<void>((resolve) => (release = resolve));
// One at a time, two waiting, and a full inbox refuses the publish.
ticks.subscribe(() => slow, { capacity: 1, buffer: 2, overflow: 'reject' });

const accepted = ticks.publish(1); // starts at once: resolves now
const deferred = [ticks.publish(2), ticks.publish(3)]; // buffered: these publishers wait
await accepted;
await ticks.publish(4).catch((error) => console.log(error instanceof BackpressureError, (error as BackpressureError).subscribers));
release();
await Promise.all(deferred);
const { delivered, deferred: buffered, rejected } = ticks.stats();
console.log({ delivered, buffered, rejected });
await registry.closeAll();
