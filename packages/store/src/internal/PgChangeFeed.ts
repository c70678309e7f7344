import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A NOTIFY payload is at most 7999 bytes; a longer name is sent as '' (listeners then resynchronise). */
const maxNamePayloadBytes = 7_999;

/**
 * After a NOTIFY, names gather this long before the next one. A NOTIFY per
 * commit cost a stream of awaited 4-op commits ~30% of its throughput (a
 * statement and a transaction of its own, and a wake-up of every listening
 * backend); other processes' watchers wake at most this much later.
 */
const notifyIntervalMs = 25;

/**
 * The PostgreSQL side of `watch`. Writers NOTIFY the names of the streams
 * they grew after their commit, batched: the first at once, then names pile
 * up while one NOTIFY statement is in flight and for `notifyIntervalMs`
 * after it, and go together in the next. Watchers share one
 * dedicated LISTEN connection per store, reconnected (with backoff) and
 * re-LISTENed after it is lost; since notifications sent meanwhile are gone,
 * every (re)LISTEN asks the store to resynchronise its watchers.
 */
export class PgChangeFeed {
  readonly #unsent = new Set<string>();
  #sending: Promise<void> | undefined;
  #listener: pg.Client | undefined;
  /** Bumped by listen and unlisten: a connection loop of an older generation stops. */
  #generation = 0;
  #listening = false;

  constructor(
    private readonly config: { connectionString: string; channel: string },
    private readonly send: (channel: string, names: string[]) => Promise<unknown>,
    private readonly onNames: (names: string[]) => void,
    private readonly onResync: () => void,
  ) {}

  /** Streams committed by this store: NOTIFY them (after their commit). */
  published(streams: readonly string[]): void {
    if (streams.length === 0) return;
    for (const stream of streams) this.#unsent.add(Buffer.byteLength(stream) > maxNamePayloadBytes ? '' : stream);
    this.#sending ??= this.#sendUnsent();
  }

  async #sendUnsent(): Promise<void> {
    while (this.#unsent.size > 0) {
      const names = [...this.#unsent];
      this.#unsent.clear();
      // A lost NOTIFY only delays other processes' watchers until the next write; it never fails the write.
      await this.send(this.config.channel, names).catch(() => undefined);
      await sleep(notifyIntervalMs);
    }
    this.#sending = undefined;
  }

  /** Starts the LISTEN connection (idempotent). */
  listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    void this.#keepListening(++this.#generation);
  }

  /** Ends the LISTEN connection. */
  async unlisten(): Promise<void> {
    this.#listening = false;
    this.#generation++;
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** Waits for queued NOTIFYs (before the store's pool closes). */
  async flushed(): Promise<void> {
    await this.#sending;
  }

  async #keepListening(generation: number): Promise<void> {
    const current = () => generation === this.#generation;
    for (let delayMs = 100; current(); delayMs = Math.min(delayMs * 2, 5_000)) {
      const client = new pg.Client({ connectionString: this.config.connectionString, keepAlive: true, connectionTimeoutMillis: 10_000 });
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      client.on('notification', (message) => {
        if (message.payload === undefined || message.payload === '') this.onResync();
        else this.onNames([message.payload]);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${pg.escapeIdentifier(this.config.channel)}`);
      } catch {
        await client.end().catch(() => undefined);
        await sleep(delayMs);
        continue;
      }
      if (!current()) {
        await client.end().catch(() => undefined);
        return;
      }
      this.#listener = client;
      delayMs = 50;
      this.onResync();
      await lost;
      if (this.#listener === client) this.#listener = undefined;
      await client.end().catch(() => undefined);
      if (current()) await sleep(delayMs);
    }
  }
}
