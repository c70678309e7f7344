import { Conversation, openConversation, participant, type ParticipantInput, TraceContext } from '@liminal/actors';
import { ChannelRegistry } from '@liminal/channels';
import { fromPromise } from 'xstate';

const registry = new ChannelRegistry();
const orders = registry.create<string>({ name: 'orders', mode: 'ephemeral' });

const billing = participant(
  'billing',
  fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
    await input.steps.step('charge', () => console.log(`charge runs in trace ${input.envelope.message.traceContext.traceId}`));
    return `charged ${input.payload}`;
  }),
);

// The handler continues the publisher's trace into a conversation.
const done = new Promise<void>((resolve) => {
  orders.subscribe(async (delivery) => {
    const span = Conversation.continue('billing', TraceContext.parse(delivery.traceparent));
    const conversation = await openConversation({ span, participants: [billing], onCrash: 'fail', mode: 'ephemeral' });
    console.log((await conversation.ask(delivery.message, 5_000)).message.payload);
    await conversation.close();
    resolve();
  });
});

const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'; // e.g. an HTTP request's traceparent
await orders.publish('o-1', { traceparent: incoming });
await done;
await registry.closeAll();
