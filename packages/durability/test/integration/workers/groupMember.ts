/**
 * One member of the worker group `jobs` on the 8-partition channel `work`, as
 * an independent process (a pod): it joins, processes until SIGTERM, then
 * leaves. Each job's effect is the counter `done/<job>` moved from what it
 * read to one more, committed with the cursor advance and the lease check,
 * so a job applied twice shows up as 2. Prints one JSON line per event.
 *
 * argv: storeUrl, memberId, join options as JSON, handler delay in ms.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DurableChannel } from '@liminal/durability';
import { openStore } from '@liminal/store';

const [url = '', memberId = '', options = '{}', delay = '0'] = process.argv.slice(2);
const store = await openStore(url);
const channel = new DurableChannel(store, 'work', { partitions: 8 });
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ memberId, pid: process.pid, ...event })}\n`);
const member = await channel.join('jobs', { memberId, ...(JSON.parse(options) as object) });
member.on('assigned', (partitions) => say({ ev: 'assigned', partitions }));
member.on('revoked', (partitions) => say({ ev: 'revoked', partitions }));
member.on('lost', (error) => say({ ev: 'lost', partition: error.partition, code: error.code }));
say({ ev: 'ready', incarnation: member.incarnation, partitions: member.assignment() });

const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
const decoder = new TextDecoder();
await member.run(
  async (envelope, tx) => {
    const job = decoder.decode(envelope.payload);
    const key = `done/${job}`;
    const applied = (await store.readValue(key)) ?? 0;
    if (Number(delay) > 0) await sleep(Number(delay));
    tx.cas(key, applied, applied + 1);
  },
  { signal: stop.signal },
);
await member.leave();
say({ ev: 'left' });
await store.close();
