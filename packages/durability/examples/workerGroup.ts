// One member of the worker group `billing`: run it in several terminals on one store and they share the partitions.
// Run: tsx --conditions=@liminal/source examples/workerGroup.ts <store-url> [orders to wait for]
import { openStore } from '@liminal/store';
import { DurableChannel } from '@liminal/durability';

const [url = 'memory:', wanted = '4'] = process.argv.slice(2);
const store = await openStore(url);
const channel = new DurableChannel(store, 'orders', { partitions: 4 });
for (const order of ['a', 'b', 'c', 'd']) {
  await channel.publish(new TextEncoder().encode(order), { key: order, idempotencyKey: `order-${order}` });
}

const member = await channel.join('billing', { memberId: `pod-${process.pid}` }); // defaults: leaseMs 2000, heartbeatMs 1100
member.on('assigned', (partitions) => console.log(`assigned ${partitions.join(', ')}`));
member.on('revoked', (partitions) => console.log(`handed over ${partitions.join(', ')}`));
console.log(`holding ${member.assignment().join(', ')}`);

const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
let charged = 0;
await member.run(
  (envelope, tx) => {
    // tx writes commit with the receipt, the cursor advance and the lease check: once for the whole group.
    tx.cas(`charged/${envelope.key}`, 0, 1);
    console.log(`charged order ${envelope.key}`);
    if (++charged === Number(wanted)) stop.abort();
  },
  { signal: stop.signal },
);
await member.leave(); // hands the partitions over at once
console.log(`left after ${charged} orders`);
await store.close();
