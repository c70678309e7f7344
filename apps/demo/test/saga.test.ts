import { describe, expect, it } from 'vitest';
import { makeOrder, type Order } from '../src/orders.js';
import { expectedEffects, planSteps } from '../src/saga.js';

const withOutcome = (kind: Order['outcome']['kind']): Order => ({ ...makeOrder(1, 0), outcome: { kind } });

describe('order saga plan', () => {
  it('a fulfilled order validates, reserves, charges and notifies, in that order', () => {
    expect(expectedEffects(withOutcome('fulfilled'))).toEqual(['order-validated', 'stock-reserved', 'payment-charged', 'customer-notified']);
  });

  it('a declined payment releases the reserved stock and charges nothing', () => {
    const plan = planSteps(withOutcome('paymentDeclined'));
    expect(plan.map((step) => step.kind)).toEqual(['forward', 'forward', 'failure', 'compensation']);
    expect(expectedEffects(withOutcome('paymentDeclined'))).toEqual(['order-validated', 'stock-reserved', 'stock-released']);
  });

  it('an undeliverable order is refunded, then its stock released (compensations in reverse order)', () => {
    expect(expectedEffects(withOutcome('undeliverable'))).toEqual([
      'order-validated',
      'stock-reserved',
      'payment-charged',
      'payment-refunded',
      'stock-released',
    ]);
  });

  it('orders are a pure function of (seed, index), and some of every outcome occur', () => {
    const orders = Array.from({ length: 2_000 }, (_, index) => makeOrder(7, index));
    expect(orders).toEqual(Array.from({ length: 2_000 }, (_, index) => makeOrder(7, index)));
    const kinds = new Set(orders.map((order) => order.outcome.kind));
    expect(kinds).toEqual(new Set(['fulfilled', 'paymentDeclined', 'undeliverable']));
    expect(makeOrder(8, 3)).not.toEqual(makeOrder(7, 3));
  });
});
