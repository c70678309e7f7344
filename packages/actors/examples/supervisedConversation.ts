import { MemoryStore } from '@liminal/store';
import { fromPromise } from 'xstate';
import { openConversation, participant, type ParticipantInput } from '@liminal/actors';

export async function main(log: (line: string) => void = console.log): Promise<number> {
  const store = new MemoryStore(); // or new SqliteStore('orders.db') to survive process restarts
  let charges = 0;
  let networkDown = true;

  // Billing logic: every step's output is recorded (with its name) before the next step runs.
  const billing = fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
    const amount = await input.steps.step('price', () => input.payload.length * 10);
    await input.steps.step('charge', () => (charges += 1));
    if (networkDown) {
      networkDown = false;
      throw new Error('network down'); // crashes after charging
    }
    return `${input.payload}: charged ${amount} by ${input.participant}`;
  });

  // When billing-1 crashes after charging, its order goes to billing-2, which
  // resumes after the recorded steps: nothing is charged twice. Reopened (in
  // this process or another), the conversation comes back as it was: billing-1
  // dead, the finished orders answered from the journal without running anything.
  const options = { id: 'orders', mode: 'durable', store, onCrash: 'routeToNext', participants: [participant('billing-1', billing), participant('billing-2', billing)] } as const;
  const conversation = await openConversation(options);
  for (const order of ['book', 'lamp']) log(String((await conversation.ask(order, { messageId: order, timeoutMs: 5000 })).message.payload));
  const reopened = await openConversation(options);
  log(`reopened: ${reopened.getState().phase}, billing-1 ${reopened.getState().participants[0]!.health.kind}`);
  log(String((await reopened.ask('book', { messageId: 'book', timeoutMs: 5000 })).message.payload));
  await reopened.close();
  log(`charges: ${charges}`);
  return charges;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
