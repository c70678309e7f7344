import { MemoryStore } from '@liminal/store';
import { fromPromise } from 'xstate';
import { openConversation, participant, type ParticipantInput } from '@liminal/actors';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const store = new MemoryStore(); // a SqliteStore or PostgresStore shared by the old and the new process
  const shop = (version: string, steps: readonly string[]) =>
    participant('shop', fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
      for (const step of steps) await input.steps.step(step, () => `${step} ${input.payload}`);
      return `${version}: ${steps.join(', ')} ${input.payload}`;
    }));
  const v1 = { participants: [shop('v1', ['reserve', 'charge'])] };
  // v2 inserts a fraud check before reserve: replaying a v1 journal on it would
  // give fraudCheck the recorded output of reserve, so Liminal refuses that.
  const v2 = { participants: [shop('v2', ['fraudCheck', 'reserve', 'charge'])] };

  // Before the deploy, the process knows only v1. order-1 is in flight.
  const before = await openConversation({ id: 'order-1', mode: 'durable', store, onCrash: 'fail', version: 'v1', versions: { v1 } });
  log((await before.ask('book', { messageId: 'book', timeoutMs: 5000 })).message.payload as string);

  // The deploy keeps v1 next to v2: order-1 goes on with v1, new conversations start on v2.
  const deployed = { mode: 'durable', store, onCrash: 'fail', version: 'v2', versions: { v1, v2 } } as const;
  const order1 = await openConversation({ ...deployed, id: 'order-1' });
  log((await order1.ask('lamp', { messageId: 'lamp', timeoutMs: 5000 })).message.payload as string);
  const order2 = await openConversation({ ...deployed, id: 'order-2' });
  log((await order2.ask('desk', { messageId: 'desk', timeoutMs: 5000 })).message.payload as string);

  // Dropping v1 while one of its conversations is open refuses it instead of corrupting it.
  const tooEarly = await openConversation({ ...deployed, id: 'order-1', versions: { v2 } }).catch((error: { code: string }) => error.code);
  log(typeof tooEarly === 'string' ? tooEarly : 'opened');
  await order1.close(); // once every v1 conversation is closed, the next deploy may drop v1
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
