import { MemoryStore } from '@liminal/store';
import { assign, fromPromise, setup } from 'xstate';
import { createDurableActor } from '@liminal/actors';

// The invoice is a child machine; its output reaches the quote when it is paid.
const invoice = setup({ types: { input: {} as { amount: number }, output: {} as { paid: number } } }).createMachine({
  id: 'invoice', initial: 'open', context: ({ input }) => ({ amount: input.amount }),
  states: { open: { on: { paid: 'paid' } }, paid: { type: 'final' } },
  output: ({ context }) => ({ paid: context.amount }),
});

export const quoteFlow = setup({
  types: { input: {} as { item: string } },
  actors: { price: fromPromise<number, string>(async ({ input }) => input.length * 10), invoice },
  delays: { decisionWindow: 200 }, // ms; a real flow would give days
}).createMachine({
  id: 'quoteFlow', initial: 'pricing', context: ({ input }) => ({ item: input.item, price: 0, paid: 0 }),
  states: {
    pricing: { invoke: { src: 'price', input: ({ context }) => context.item, onDone: { target: 'awaitingDecision', actions: assign({ price: ({ event }) => event.output }) } } },
    awaitingDecision: { after: { decisionWindow: 'expired' }, on: { accept: 'invoicing', reject: 'rejected' } },
    invoicing: {
      invoke: { src: 'invoice', systemId: 'invoice', input: ({ context }) => ({ amount: context.price }), onDone: { target: 'invoiced', actions: assign({ paid: ({ event }) => event.output.paid }) } },
    },
    invoiced: { type: 'final' }, rejected: { type: 'final' }, expired: { type: 'final' },
  },
});

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const store = new MemoryStore(); // or new SqliteStore('flows.db') to survive process restarts
  const lamp = await createDurableActor(quoteFlow, { store, id: 'quote-lamp', input: { item: 'lamp' } });
  await lamp.waitFor((s) => s.matches('awaitingDecision'));
  await lamp.stop(); // the process goes away; the journal keeps the quote
  const reopened = await createDurableActor(quoteFlow, { store, id: 'quote-lamp' });
  await reopened.send({ type: 'accept' });
  await reopened.system.get('invoice')!.send({ type: 'paid' });
  log(`lamp: ${String(reopened.getSnapshot().value)}, paid ${reopened.getSnapshot().context.paid}`);

  const book = await createDurableActor(quoteFlow, { store, id: 'quote-book', input: { item: 'book' } });
  await book.waitFor((s) => s.matches('awaitingDecision'));
  await book.stop(); // nobody decides; the decision deadline is in the journal, not in a lost setTimeout
  const later = await createDurableActor(quoteFlow, { store, id: 'quote-book' });
  log(`book: ${String((await later.waitFor((s) => s.status === 'done')).value)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
