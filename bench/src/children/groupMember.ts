// A member of the worker group `bench` of channel `bench` in its own process (suite 13).
// Usage: groupMember.ts <postgres-url> <schema> <partitions> [join options as JSON]
// Joins, then (on `go`) runs a trivial handler (no effects: the receipt, cursor and lease check commit) until SIGTERM,
// reporting through WorkerReport (see report.ts).
import { createRequire } from 'node:module';
import { DurableChannel } from '@liminal/durability';
import { PostgresStore } from '@liminal/store';
import { WorkerReport } from './report.js';

const [url = '', schema = '', partitions = '8', options = '{}'] = process.argv.slice(2);
const store = new PostgresStore(url, { schema });
const channel = new DurableChannel(store, 'bench', { partitions: Number(partitions) });
// Every statement the store sends (its pool and its LISTEN connection) goes through pg's Client#query:
// count them there, in the store's own copy of pg.
const { Client } = createRequire(import.meta.resolve('@liminal/store'))('pg') as typeof import('pg');
let queries = 0;
const query = Client.prototype.query;
Client.prototype.query = function (this: InstanceType<typeof Client>, ...args: unknown[]) {
  queries++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;
const report = new WorkerReport(() => queries);
const member = await channel.join('bench', JSON.parse(options) as object);
member.on('assigned', (given) => report.held(member.assignment(), given));
member.on('revoked', () => report.held(member.assignment()));
report.held(member.assignment(), member.assignment());
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
const decoder = new TextDecoder();
await report.ready();
await member.run(
  (envelope) => {
    report.started((JSON.parse(decoder.decode(envelope.payload)) as { sentAt: number }).sentAt);
    report.finished(envelope.partition);
  },
  { signal: stop.signal },
);
await member.leave();
report.stop();
await store.close();
