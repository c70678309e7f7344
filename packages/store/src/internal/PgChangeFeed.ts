import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type ChangeChannels, decodeNotification } from './pgChangeNotice.js';

/**
 * The PostgreSQL side of `watch`, listening. Writers NOTIFY the names of
 * the streams they grew from inside their commit, one notice per write (see
 * `pgChangeNotice`), so a name is sent once it is committed and never sooner. Watchers share one
 * dedicated LISTEN connection per store, reconnected (with backoff) and
 * re-LISTENed after it is lost; since notifications sent meanwhile are gone,
 * every (re)LISTEN asks the store to resynchronise its watchers.
 */
export class PgChangeFeed {
  #listener: pg.Client | undefined;
  /** Bumped by listen and unlisten: a connection loop of an older generation stops. */
  #generation = 0;
  #listening = false;

  constructor(
    private readonly config: { connectionString: string; channels: ChangeChannels },
    private readonly onNames: (names: string[]) => void,
    private readonly onResync: () => void,
  ) {}

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

  async #keepListening(generation: number): Promise<void> {
    const current = () => generation === this.#generation;
    for (let delayMs = 100; current(); delayMs = Math.min(delayMs * 2, 5_000)) {
      const client = new pg.Client({ connectionString: this.config.connectionString, keepAlive: true, connectionTimeoutMillis: 10_000 });
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      client.on('notification', (message) => {
        const names = decodeNotification(this.config.channels, message.channel, message.payload);
        if (names === undefined) this.onResync();
        else this.onNames(names);
      });
      try {
        await client.connect();
        const { lists, legacy } = this.config.channels;
        await client.query(`LISTEN ${pg.escapeIdentifier(lists)}; LISTEN ${pg.escapeIdentifier(legacy)}`);
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
