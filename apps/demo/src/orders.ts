import { DecodeError } from '@liminal/store';
import { seededRandom } from './prng.js';

/**
 * How an order ends. Outcomes are a pure function of (seed, index), so the
 * verifier can recompute exactly which ledger entries every order must have.
 */
export type OrderOutcome =
  | { readonly kind: 'fulfilled' }
  /** The card is declined at `charge`: the stock reservation is compensated. */
  | { readonly kind: 'paymentDeclined' }
  /** The customer cannot be notified (bounced address): charge and stock are compensated. */
  | { readonly kind: 'undeliverable' };

export interface Order {
  readonly id: string;
  readonly index: number;
  readonly customer: string;
  readonly sku: string;
  readonly quantity: number;
  readonly amountCents: number;
  readonly outcome: OrderOutcome;
}

const skus = ['lamp', 'kettle', 'chair', 'desk', 'mug', 'rug', 'clock', 'vase'] as const;

export function orderId(index: number): string {
  return `order-${String(index).padStart(6, '0')}`;
}

export function makeOrder(seed: number, index: number): Order {
  const random = seededRandom(seed, index, 0x04de);
  const quantity = 1 + Math.floor(random() * 4);
  const sku = skus[Math.floor(random() * skus.length)] ?? 'lamp';
  const roll = random();
  const outcome: OrderOutcome =
    roll < 0.03 ? { kind: 'paymentDeclined' } : roll < 0.04 ? { kind: 'undeliverable' } : { kind: 'fulfilled' };
  return {
    id: orderId(index),
    index,
    customer: `customer-${Math.floor(random() * 500)}`,
    sku,
    quantity,
    amountCents: quantity * (500 + Math.floor(random() * 9_500)),
    outcome,
  };
}

export function encodeOrder(order: Order): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(order));
}

/** Reads an order back from a channel payload; anything malformed is a `DecodeError`. */
export function decodeOrder(payload: Uint8Array): Order {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (cause) {
    throw new DecodeError('order payload is not UTF-8 JSON', { cause });
  }
  if (!isOrder(value)) throw new DecodeError('order payload does not have the shape of an order');
  return value;
}

function isOrder(value: unknown): value is Order {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  const outcome = o['outcome'] as Record<string, unknown> | null | undefined;
  return (
    typeof o['id'] === 'string' &&
    Number.isSafeInteger(o['index']) &&
    typeof o['customer'] === 'string' &&
    typeof o['sku'] === 'string' &&
    Number.isSafeInteger(o['quantity']) &&
    Number.isSafeInteger(o['amountCents']) &&
    typeof outcome === 'object' &&
    outcome !== null &&
    (outcome['kind'] === 'fulfilled' || outcome['kind'] === 'paymentDeclined' || outcome['kind'] === 'undeliverable')
  );
}
