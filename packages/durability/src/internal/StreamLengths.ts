import type { DurableStore } from '@liminal/store';

/** Enough for the streams one consumer or channel writes to; forgetting one costs a `streamLength` read. */
const CAPACITY = 1024;

/**
 * Last known lengths of streams a writer appends to, so that an append's
 * `expectedSeq` needs no read. A stale length only makes the append conflict,
 * and the conflict reports the real length.
 */
export class StreamLengths {
  readonly #lengths = new Map<string, number>();

  /** Reads the length of every stream not known yet. */
  async load(store: DurableStore, streams: Iterable<string>): Promise<void> {
    const missing = [...streams].filter((stream) => !this.#lengths.has(stream));
    const lengths = await Promise.all(missing.map((stream) => store.streamLength(stream)));
    missing.forEach((stream, index) => this.set(stream, lengths[index]!));
  }

  get(stream: string): number {
    return this.#lengths.get(stream) ?? 0;
  }

  set(stream: string, length: number): void {
    this.#lengths.delete(stream);
    this.#lengths.set(stream, length);
    if (this.#lengths.size > CAPACITY) this.#lengths.delete(this.#lengths.keys().next().value!);
  }
}
