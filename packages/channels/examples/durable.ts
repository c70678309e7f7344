import { ChannelRegistry, decodeDurableMessage } from '@liminal/channels';
import { DurableChannel } from '@liminal/durability';
import { MemoryStore } from '@liminal/store';

const store = new MemoryStore(); // or new SqliteStore('app.db'), openStore('postgres://...')
const registry = new ChannelRegistry({ store, restart: { maxRestarts: 3, withinMs: 5_000 } });
const payments = registry.create<{ amount: number }>({ name: 'payments', mode: 'durable', partitions: 4 });
payments.subscribe((d) => console.log(`live: ${d.message.amount} at ${d.partition}/${d.sequence}`));

const first = await payments.publish({ amount: 10 }, { key: 'customer-7', idempotencyKey: 'pay-1' });
const again = await payments.publish({ amount: 10 }, { key: 'customer-7', idempotencyKey: 'pay-1' });
console.log(`duplicate: ${again.duplicate}, same message: ${again.messageId === first.messageId}`);

// Stored through DurableChannel: any consumer can replay it from its cursor.
const consumer = await new DurableChannel(store, 'payments', { partitions: 4 }).consume('ledger', first.partition);
for (const envelope of await consumer.poll()) console.log('replayed', decodeDurableMessage(envelope.payload));
await registry.closeAll();
