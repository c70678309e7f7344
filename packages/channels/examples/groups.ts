import { ChannelRegistry } from '@liminal/channels';

const registry = new ChannelRegistry();
const jobs = registry.create<string>({ name: 'jobs', mode: 'ephemeral' });
const workers = jobs.group('workers');

workers.join(() => {
  throw new Error('worker a crashed');
});
workers.join((d) => console.log(`worker b handled ${d.message}`));
workers.onUndeliverable((error) => console.log(error.code));

await jobs.publish('resize image 1'); // a crashes: rerouted to b
await jobs.publish('resize image 2'); // only b is left
await new Promise((resolve) => setImmediate(resolve));
console.log(`live members: ${workers.liveMembers}, reroutes: ${jobs.stats().reroutes}`);
await registry.closeAll();
