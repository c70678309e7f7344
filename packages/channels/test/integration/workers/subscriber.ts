/**
 * A subscriber process: subscribes to the durable channel `audit` through the
 * group `readers` and prints each delivered message as a JSON line.
 * argv: storeUrl.
 */
import { ChannelRegistry } from '@liminal/channels';
import { openStore } from '@liminal/store';

const store = await openStore(process.argv[2] ?? '');
const registry = new ChannelRegistry({ store });
const audit = registry.create<{ text: string }>({ name: 'audit', mode: 'durable', partitions: 2 });
const subscription = await audit.subscribeDurable('readers', (d) => void process.stdout.write(`${JSON.stringify({ text: d.message.text, sequence: d.sequence })}\n`), {
  leaseMs: 1_500,
  heartbeatMs: 300,
  pollMs: 1_000,
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void subscription.close().then(async () => {
    await registry.closeAll();
    await store.close();
  });
});
