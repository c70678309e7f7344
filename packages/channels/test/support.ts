import { MemoryStore, StoreUnavailableError, type CommitResult, type WriteOp } from '@liminal/store';
import { ForwardingStore } from '@liminal/testkit';

/**
 * A store whose appends to streams starting with `failingPrefix` fail while
 * `failuresLeft` is positive: a backend outage as a channel actor sees it.
 */
export class FlakyStore extends ForwardingStore {
  failuresLeft = 0;
  failingPrefix = '';

  #paused: Promise<void> | undefined;

  /** Makes appends wait until the returned function is called. */
  pauseAppends(): () => void {
    let resume!: () => void;
    this.#paused = new Promise<void>((resolve) => (resume = resolve));
    return () => {
      this.#paused = undefined;
      resume();
    };
  }

  failAppends(prefix: string, times: number): void {
    this.failingPrefix = prefix;
    this.failuresLeft = times;
  }

  /** Appends currently held by `pauseAppends`. */
  waitingAppends = 0;

  constructor() {
    super(new MemoryStore());
  }

  override async append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    await this.#hold([stream]);
    return this.inner.append(stream, payload, expectedSeq);
  }

  /** Durable channels publish through `commit` (message and receipt together): its appends are held and failed alike. */
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    const appended = ops.flatMap((op) => (op.op === 'append' ? [op.stream] : []));
    if (appended.length > 0) await this.#hold(appended);
    return this.inner.commit(ops);
  }

  async #hold(streams: readonly string[]): Promise<void> {
    if (this.#paused !== undefined) {
      this.waitingAppends += 1;
      await this.#paused;
      this.waitingAppends -= 1;
    }
    const failing = streams.find((stream) => stream.startsWith(this.failingPrefix));
    if (this.failuresLeft > 0 && failing !== undefined) {
      this.failuresLeft -= 1;
      throw new StoreUnavailableError(`injected outage on ${failing}`);
    }
  }
}

/** Resolves once `predicate` holds, polling the event loop; fails after `ms` of real time. */
export async function eventually(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A promise with its resolve function, to hold a handler until the test lets go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
