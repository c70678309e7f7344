import type { WriteOp } from '@liminal/store';

/**
 * The writes a `processOnce` handler wants to happen exactly once. They are
 * buffered, and committed in ONE store `commit` together with the message's
 * receipt and the cursor advance: either all of them happen or none does, so
 * a crash, a redelivery or a competing consumer never repeats or loses one.
 *
 * Only writes to the same store can be made exactly once this way. A call to
 * the outside world (an HTTP API, an email) made by the handler happens
 * *at least once*: it runs again when the process dies before the commit, or
 * when the claim's lease runs out and another consumer takes the message
 * over. Pass `idempotencyKey` to such APIs (a Stripe-style idempotency key)
 * so that they can drop the repeat; it is the same for every delivery of the
 * message to this consumer.
 */
export interface EffectTx {
  /** Stable per (channel, consumer, message): the same on every redelivery and after takeovers. */
  readonly idempotencyKey: string;
  /**
   * The conditions this work commits under (`processOnce`'s / `runOnce`'s
   * `options.conditions`, e.g. a worker group's lease check). Give them to
   * exactly-once work nested in the handler (`cache.runOnce(key, now, claim,
   * work, {conditions: tx.conditions})`) so that its writes are fenced the
   * same way: once this work's lease is lost, the nested work writes nothing.
   */
  readonly conditions: readonly WriteOp[];
  /** Appends `payload` at the end of `stream` when the handler's work commits. */
  append(stream: string, payload: Uint8Array): void;
  /**
   * Sets counter `key` from `expected` to `next` when the work commits. If
   * the counter holds another value then, nothing is written and
   * `processOnce` rejects with `EffectConflictError`.
   */
  cas(key: string, expected: number, next: number): void;
}

/** What an exactly-once unit of work (`processOnce`, `DedupCache.runOnce`) did. */
export type OnceOutcome =
  /** The work ran now and its effects and receipt were committed together. */
  | { readonly kind: 'processed'; readonly receipt: Uint8Array }
  /** It was done before (maybe before a restart, maybe in another process): the work did not run. */
  | { readonly kind: 'duplicate'; readonly receipt: Uint8Array }
  /** Another owner holds it until `expiresAtMs`; the work did not run. Try again later. */
  | { readonly kind: 'inFlight'; readonly owner: string; readonly expiresAtMs: number };

/** A unit of work's optional return value is stored as its receipt. */
export type OnceWork = (tx: EffectTx) => Promise<Uint8Array | void> | Uint8Array | void;
