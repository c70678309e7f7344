import { MemoryStore, StoreUnavailableError } from '@liminal/store';
import { describe, expect, it } from 'vitest';
import { OrderEscalation, runOrderConversation, type OrderConversationContext } from '../src/orderConversation.js';
import { makeOrder, type Order } from '../src/orders.js';
import type { Step } from '../src/saga.js';

const withOutcome = (kind: Order['outcome']['kind']): Order => ({ ...makeOrder(1, 0), outcome: { kind } });

function context(store: MemoryStore, perform: (step: Step, index: number) => Promise<string> | string) {
  const performed: string[] = [];
  const ran: string[] = [];
  const ctx: OrderConversationContext = {
    store,
    conversationId: (orderId) => `test:order:${orderId}`,
    perform: async (_order, index, step) => {
      performed.push(`${index}:${step.kind === 'failure' ? 'failure' : step.effect}`);
      return perform(step, index);
    },
    ran: (what) => void ran.push(what),
  };
  return { ctx, performed, ran };
}

describe('an order as a durable actors conversation', () => {
  it('a fulfilled order runs its four participants in turn; reopened, it is answered from the log without running anything', async () => {
    const store = new MemoryStore();
    const first = context(store, (_step, index) => `ledger#${index}`);
    expect(await runOrderConversation(first.ctx, withOutcome('fulfilled'))).toBe('fulfilled');
    expect(first.performed).toEqual(['0:order-validated', '1:stock-reserved', '2:payment-charged', '3:customer-notified']);
    const again = context(store, () => 'never');
    expect(await runOrderConversation(again.ctx, withOutcome('fulfilled'))).toBe('fulfilled');
    expect(again.performed).toEqual([]);
  });

  it("an undeliverable order is compensated by the conversation's compensate policy, refund then release, at the plan's step indexes, once", async () => {
    const store = new MemoryStore();
    const first = context(store, (_step, index) => `ledger#${index}`);
    expect(await runOrderConversation(first.ctx, withOutcome('undeliverable'))).toBe('compensated');
    expect(first.performed).toEqual(['0:order-validated', '1:stock-reserved', '2:payment-charged', '3:failure', '4:payment-refunded', '5:stock-released']);
    expect(first.ran).toEqual(['step', 'step', 'step', 'step', 'compensation', 'compensation']);
    const again = context(store, () => 'never');
    expect(await runOrderConversation(again.ctx, withOutcome('undeliverable'))).toBe('compensated');
    expect(again.performed).toEqual([]);
  });

  it('a participant that fails for a reason other than the order (store down) escalates instead of compensating; the retry resumes', async () => {
    const store = new MemoryStore();
    const order = withOutcome('fulfilled');
    const failing = context(store, (step, index) => {
      if (index === 2) throw new StoreUnavailableError('store down');
      return `ledger#${index}`;
    });
    const error = await runOrderConversation(failing.ctx, order).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrderEscalation);
    expect((error as Error).cause).toBeInstanceOf(StoreUnavailableError);
    expect(failing.performed).not.toContain('4:payment-refunded');
    const retry = context(store, (_step, index) => `ledger#${index}`);
    expect(await runOrderConversation(retry.ctx, order)).toBe('fulfilled');
    expect(retry.performed).toEqual(['2:payment-charged', '3:customer-notified']);
  });
});
