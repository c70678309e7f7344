/**
 * Where one demo run keeps its data. Counters cannot be deleted from a
 * `DurableStore` (and cursors refuse to move backwards), so `--reset` starts a
 * new run number instead of rewriting the old run's keys.
 */
export const currentRunKey = 'liminal-demo:run';

export class RunNames {
  readonly prefix: string;

  constructor(readonly run: number) {
    this.prefix = `liminal-demo:r${run}`;
  }

  get manifest(): string {
    return `${this.prefix}:manifest`;
  }
  get channel(): string {
    return `${this.prefix}:orders`;
  }
  get consumerId(): string {
    return `${this.prefix}:fulfilment`;
  }
  get dedupNamespace(): string {
    return `${this.prefix}:effects`;
  }
  /** How many orders the producer has published (a high-water mark, advanced by cas). */
  get published(): string {
    return `${this.prefix}:published`;
  }
  ledger(partition: number): string {
    return `${this.prefix}:ledger:p${partition}`;
  }
  /** An order's own conversation (its participants' steps and compensations). */
  orderConversation(orderId: string): string {
    return `${this.prefix}:order:${orderId}`;
  }
  /** The partition's log of finished orders. */
  conversation(partition: number): string {
    return `${this.prefix}:conversation:p${partition}`;
  }
}
