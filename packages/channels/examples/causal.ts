import { ChannelRegistry } from '@liminal/channels';

const registry = new ChannelRegistry({ causalTimeoutMs: 50 });
const chat = registry.create<string>({ name: 'chat', mode: 'ephemeral' });
chat.subscribe((d) => console.log(`${d.message}${d.orphaned ? ' (orphaned)' : ''}`));

// The answer overtakes its question: it waits for it.
const held = await chat.publish('answer', { causationId: 'q-1' });
console.log(`held: ${held.held}`);
await chat.publish('question', { messageId: 'q-1' });

// A reply to a message that never comes is delivered after the timeout, flagged.
await chat.publish('reply to nothing', { causationId: 'q-404' });
await new Promise((resolve) => setTimeout(resolve, 100));
await registry.closeAll();
