import { partitionFor } from '@liminal/durability';

/** A published message as the channel keeps it, before it reaches any subscriber. */
export interface ChannelRecord {
  readonly messageId: string;
  readonly message: unknown;
  readonly causationId?: string;
  readonly traceparent: string;
  readonly publishedAt: number;
}

export interface AppendOptions {
  readonly key?: string;
  readonly idempotencyKey?: string;
  /** Durable logs only (the channel refuses it for an ephemeral one). */
  readonly deliverAt?: number;
}

export type LogWrite =
  | { readonly kind: 'appended'; readonly partition: number; readonly sequence?: number }
  /** Stored to be delivered at `deliverAt`: nothing to deliver live. */
  | { readonly kind: 'scheduled'; readonly partition: number; readonly deliverAt: number }
  /** The idempotency key was seen: these are the first publish's coordinates. */
  | { readonly kind: 'duplicate'; readonly messageId: string; readonly partition: number; readonly sequence?: number; readonly deliverAt?: number }
  /** The write was refused for this message alone (a bad or in-flight idempotency key): not a crash. */
  | { readonly kind: 'refused'; readonly error: Error };

/** Where a channel writes a message before delivering it: memory, or a durable stream. */
export interface MessageLog {
  /** Called on every (re)start of the channel actor. */
  recover(): Promise<void>;
  append(record: ChannelRecord, options: AppendOptions): LogWrite | Promise<LogWrite>;
}

/**
 * Ephemeral channels store nothing; the log only picks the partition and
 * remembers recent idempotency keys. Memory is bounded, so a key older than the
 * last `rememberKeys` keys is forgotten and a replay of it is delivered again.
 */
export class EphemeralLog implements MessageLog {
  #nextPartition = 0;
  readonly #seen = new Map<string, { messageId: string; partition: number }>();

  constructor(
    private readonly partitions: number,
    private readonly rememberKeys = 10_000,
  ) {}

  async recover(): Promise<void> {}

  append(record: ChannelRecord, { key, idempotencyKey }: AppendOptions): LogWrite {
    if (idempotencyKey !== undefined) {
      const first = this.#seen.get(idempotencyKey);
      if (first !== undefined) return { kind: 'duplicate', ...first };
    }
    const partition = key !== undefined ? partitionFor(key, this.partitions) : this.#roundRobin();
    if (idempotencyKey !== undefined) {
      this.#seen.set(idempotencyKey, { messageId: record.messageId, partition });
      if (this.#seen.size > this.rememberKeys) this.#seen.delete(this.#seen.keys().next().value as string);
    }
    return { kind: 'appended', partition };
  }

  #roundRobin(): number {
    const partition = this.#nextPartition;
    this.#nextPartition = (partition + 1) % this.partitions;
    return partition;
  }
}
