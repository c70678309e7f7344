/**
 * What a worker child of suite 13 tells its parent, one JSON line each, the
 * same for Liminal and for every peer, so the parent measures them alike:
 * - `{ev: 'ready'}` once it is set up; it starts consuming on `go` on stdin;
 * - `{ev: 'held', partitions}` whenever the partitions it holds change (Liminal);
 * - `{ev: 'count', n, lastAt}` at most every 50 ms while its count moves
 *   (`lastAt`: when it finished its latest message);
 * - `{ev: 'first', partition, at}` for the first message it handles on a
 *   partition it was just given (failover);
 * - `{ev: 'latencies', values, queries}` when asked with `report` on stdin:
 *   the publish → handler-start delay of every message since the last
 *   report, and the statements this process sent so far (if it counts them).
 *
 * Times are epoch milliseconds with sub-millisecond precision
 * (`performance.timeOrigin + performance.now()`), comparable across
 * processes of one machine.
 */
import { createInterface } from 'node:readline';

export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A job's payload: when its publisher sent it. */
export function sentAtPayload(): { sentAt: number } {
  return { sentAt: epochNow() };
}

export class WorkerReport {
  #count = 0;
  #lastAt = 0;
  #reported = 0;
  #latencies: number[] = [];
  readonly #fresh = new Set<number>();
  readonly #timer: NodeJS.Timeout;

  readonly #go: Promise<void>;

  constructor(private readonly queries: () => number | undefined = () => undefined) {
    let go = () => {};
    this.#go = new Promise((resolve) => (go = resolve));
    this.#timer = setInterval(() => {
      if (this.#count === this.#reported) return;
      this.#reported = this.#count;
      say({ ev: 'count', n: this.#count, lastAt: this.#lastAt });
    }, 50);
    createInterface({ input: process.stdin }).on('line', (line) => {
      if (line.trim() === 'go') go();
      if (line.trim() !== 'report') return;
      say({ ev: 'latencies', values: this.#latencies, queries: this.queries() });
      this.#latencies = [];
    });
  }

  /** Set up: resolves when the parent says `go`. */
  ready(): Promise<void> {
    say({ ev: 'ready' });
    return this.#go;
  }

  /** The partitions held now, after `given` were just won: their first message is reported. */
  held(partitions: readonly number[], given: readonly number[] = []): void {
    for (const partition of given) this.#fresh.add(partition);
    say({ ev: 'held', partitions });
  }

  /** At the start of a handler: the message's publish → start delay. */
  started(sentAt: number): void {
    this.#latencies.push(epochNow() - sentAt);
  }

  /** At the end of a handler. */
  finished(partition?: number): void {
    this.#count++;
    this.#lastAt = epochNow();
    if (partition !== undefined && this.#fresh.delete(partition)) say({ ev: 'first', partition, at: this.#lastAt });
  }

  stop(): void {
    clearInterval(this.#timer);
    process.stdin.destroy();
  }
}

function say(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}
