import { MemoryStore } from '@liminal/store';
import { createActor, fromPromise } from 'xstate';
import { createSupervisor, openConversation, participant, type ParticipantInput } from '@liminal/actors';

export async function main(log: (line: string) => void = console.log): Promise<number> {
  const store = new MemoryStore(); // or new SqliteStore('orders.db') to survive process restarts
  let charges = 0;
  let networkDown = true;

  // A participant: every step's output is recorded before the next step runs.
  const billing = participant('billing', fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
    const amount = await input.steps.step('price', () => input.payload.length * 10);
    await input.steps.step('charge', () => (charges += 1));
    if (networkDown) {
      networkDown = false;
      throw new Error('network down'); // crashes after charging
    }
    return `${input.payload}: charged ${amount}`;
  }));

  // The desk asks billing about each order. When the conversation fails the desk
  // crashes; the supervisor restarts it, and the reopened durable conversation
  // resumes the order after its recorded steps: nothing is charged twice.
  const desk = fromPromise(async () => {
    const conversation = await openConversation({ id: 'orders', mode: 'durable', store, onCrash: 'fail', participants: [billing] });
    for (const order of ['book', 'lamp']) {
      const reply = await conversation.ask(order, { messageId: order, timeoutMs: 5000 });
      log(String(reply.message.payload));
    }
    await conversation.close();
  });

  const supervisor = createActor(createSupervisor({ strategy: 'oneForOne', children: [{ id: 'desk', logic: desk, restart: 'transient' }] }));
  supervisor.on('supervisor.restart', ({ child }) => log(`restarted ${child}`));
  const finished = new Promise((resolve) => supervisor.on('supervisor.exit', resolve));
  supervisor.start();
  await finished;
  log(`charges: ${charges}`);
  return charges;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
