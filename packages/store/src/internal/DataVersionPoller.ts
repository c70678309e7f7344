import type Database from 'better-sqlite3';
import { prefixUpperBound } from './prefixRange.js';

/**
 * How a SQLite store hears about other connections' writes (other processes,
 * or other stores on the same file): `PRAGMA data_version` changes whenever
 * another connection commits, so it is polled while anyone watches, and on a
 * change the lengths of the watched streams are compared with the last ones
 * seen. Writes through this connection do not change it; the store notifies
 * those itself.
 */
export class DataVersionPoller {
  readonly #lengths = new Map<string, number>();
  readonly #lengthsUnder: Database.Statement;
  #timer: NodeJS.Timeout | undefined;
  #version: unknown;

  constructor(
    private readonly db: Database.Database,
    private readonly intervalMs: number,
    private readonly prefixes: () => readonly string[],
    private readonly grown: (streams: string[]) => void,
  ) {
    // The loose index scan of listStreams, with each name's length.
    this.#lengthsUnder = db.prepare(`
      WITH RECURSIVE names (stream) AS (
        SELECT (SELECT stream FROM entries WHERE stream >= @prefix ORDER BY stream LIMIT 1)
        UNION ALL
        SELECT (SELECT next.stream FROM entries AS next WHERE next.stream > names.stream ORDER BY next.stream LIMIT 1)
        FROM names
        WHERE names.stream IS NOT NULL AND (@bound IS NULL OR names.stream < @bound)
      )
      SELECT stream, (SELECT MAX(seq) + 1 FROM entries WHERE entries.stream = names.stream) AS length
      FROM names WHERE stream IS NOT NULL AND (@bound IS NULL OR stream < @bound)`);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#version = this.#readVersion();
    for (const prefix of this.prefixes()) this.#changedUnder(prefix);
    // Kept referenced, like PostgreSQL's listening socket: a process waiting
    // only on `watch` must stay alive until the watcher ends.
    this.#timer = setInterval(() => this.#poll(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lengths.clear();
  }

  #poll(): void {
    try {
      const version = this.#readVersion();
      if (version === this.#version) return;
      this.#version = version;
      const grown = this.prefixes().flatMap((prefix) => this.#changedUnder(prefix));
      if (grown.length > 0) this.grown(grown);
    } catch {
      // Busy or briefly unreadable: the next tick looks again, and a wake-up is only ever late.
    }
  }

  #readVersion(): unknown {
    return this.db.pragma('data_version', { simple: true });
  }

  /** Streams under `prefix` whose length differs from the last one seen (a prefix seen for the first time: all). */
  #changedUnder(prefix: string): string[] {
    const rows = this.#lengthsUnder.all({ prefix, bound: prefixUpperBound(prefix) ?? null }) as { stream: string; length: number }[];
    const changed: string[] = [];
    for (const { stream, length } of rows) {
      if (this.#lengths.get(stream) !== length) changed.push(stream);
      this.#lengths.set(stream, length);
    }
    return changed;
  }
}
