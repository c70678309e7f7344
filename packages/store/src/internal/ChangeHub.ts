import type { WriteOp } from '../WriteOp.js';

/**
 * The in-process side of `watch`: every watcher of one store, each with the
 * names of the streams under its prefix that grew since it last looked.
 * Names are coalesced (a stream that grew ten times before the watcher woke
 * is one wake-up), so a slow watcher holds at most one entry per stream.
 */
export class ChangeHub {
  readonly #watchers = new Set<Watcher>();

  /** `onActive` runs when the first watcher starts, `onIdle` when the last one ends. */
  constructor(private readonly hooks: { onActive?(): void; onIdle?(): void } = {}) {}

  subscribe(prefix: string, signal: AbortSignal | undefined): AsyncIterableIterator<string> {
    const watcher = new Watcher(prefix, () => this.#remove(watcher));
    if (signal?.aborted) {
      watcher.end();
      return watcher;
    }
    this.#watchers.add(watcher);
    if (this.#watchers.size === 1) this.hooks.onActive?.();
    signal?.addEventListener('abort', () => watcher.end(), { once: true });
    return watcher;
  }

  /** Wakes every watcher whose prefix one of `streams` starts with. */
  notify(streams: Iterable<string>): void {
    if (this.#watchers.size === 0) return;
    for (const stream of streams) for (const watcher of this.#watchers) watcher.offer(stream);
  }

  /** The prefixes being watched (for a full resynchronisation after notifications may have been lost). */
  prefixes(): string[] {
    return [...new Set([...this.#watchers].map((watcher) => watcher.prefix))];
  }

  get active(): boolean {
    return this.#watchers.size > 0;
  }

  /** Ends every watcher (the store is closing). */
  endAll(): void {
    for (const watcher of [...this.#watchers]) watcher.end();
  }

  #remove(watcher: Watcher): void {
    if (this.#watchers.delete(watcher) && this.#watchers.size === 0) this.hooks.onIdle?.();
  }
}

class Watcher implements AsyncIterableIterator<string> {
  readonly #pending = new Set<string>();
  #waiting: ((result: IteratorResult<string>) => void) | undefined;
  #ended = false;

  constructor(
    readonly prefix: string,
    private readonly onEnd: () => void,
  ) {}

  offer(stream: string): void {
    if (this.#ended || !stream.startsWith(this.prefix)) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: stream, done: false });
    } else this.#pending.add(stream);
  }

  next(): Promise<IteratorResult<string>> {
    const [first] = this.#pending;
    if (first !== undefined) {
      this.#pending.delete(first);
      return Promise.resolve({ value: first, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<string>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops the watcher: names not yet taken are dropped, a waiting `next` ends the iteration. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending.clear();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
    this.onEnd();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }
}

/** The streams a commit made grow: those of its appends with at least one payload. */
export function grownBy(ops: readonly WriteOp[]): string[] {
  return ops.flatMap((op) => (op.op === 'append' && op.payloads.length > 0 ? [op.stream] : []));
}
