import { ChannelRegistry, serveMetrics } from '@liminal/channels';

const registry = new ChannelRegistry();
const events = registry.create({ name: 'events', mode: 'ephemeral' });
events.subscribe(() => undefined);
await events.publish({ hello: 'world' });

// Conversations report their phases and step latencies on the same registry.
registry.telemetry.conversationPhase(undefined, 'created');
registry.telemetry.observeStep(0.004);

const server = await serveMetrics(registry, { port: 0 }); // 127.0.0.1 only
const text = await (await fetch(server.url)).text();
console.log(text.split('\n').filter((line) => line.startsWith('liminal_channel_published_total')));
await server.close();
await registry.closeAll();
