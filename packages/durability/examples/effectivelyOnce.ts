// A consumer that processes a channel effectively once across a restart.
// Run: pnpm --filter @liminal/durability example <store-url> [crashAfter]
// e.g. `... example /tmp/orders.db 3` (crashes after 3 messages), then `... example /tmp/orders.db`.
import { openStore } from '@liminal/store';
import { DurableChannel } from '@liminal/durability';

const [url = 'memory:', crashAfter] = process.argv.slice(2);
const store = await openStore(url);
const channel = new DurableChannel(store, 'orders', { partitions: 1 });
const text = new TextDecoder();
const bytes = new TextEncoder();

// Publishing is idempotent per idempotencyKey: running this again after a
// restart appends nothing and returns the original offsets.
for (const order of ['a', 'b', 'c', 'd', 'e']) {
  const { sequence } = await channel.publish(bytes.encode(`order ${order}`), { key: order, idempotencyKey: `order-${order}` });
  console.log(`published order ${order} at offset ${sequence}`);
}

// Checkpointing every 10 messages writes less, so a crash redelivers up to
// 10 messages; processOnce recognises them by message id and skips them.
const consumer = await channel.consume('billing', 0, { checkpoint: { kind: 'perBatch', size: 10 } });
let seen = 0;
for await (const envelope of consumer) {
  const outcome = await consumer.processOnce(envelope, async ({ payload }, tx) => {
    // Writes through tx are committed with the receipt and the cursor: exactly once.
    tx.append('charges', bytes.encode(`charged ${text.decode(payload)}`));
    console.log(`charged ${text.decode(payload)}`); // a log line (or an HTTP call) is at-least-once
    return bytes.encode('charged');
  });
  if (outcome.kind === 'duplicate') console.log(`skipped ${text.decode(envelope.payload)}: already processed`);
  if (++seen === Number(crashAfter)) {
    console.log('crashing before the batch checkpoint');
    process.exit(1);
  }
}
await consumer.flush(); // persist the offset the batch policy was still holding back
console.log(`caught up at offset ${consumer.cursor.currentOffset}, ${await store.streamLength('charges')} charges stored`);
await store.close();
