/**
 * N callers, each owning one stream and the next sequence on it. `round`
 * starts one append per caller at once and waits for all of them, so every
 * call of a side keeps exactly N appends in flight.
 */
export class Callers {
  readonly #next: number[];

  constructor(
    readonly count: number,
    readonly prefix: string,
  ) {
    this.#next = Array.from({ length: count }, () => 0);
  }

  stream(caller: number): string {
    return `${this.prefix}-${caller}`;
  }

  async round(append: (stream: string, seq: number) => Promise<unknown> | unknown): Promise<void> {
    await Promise.all(
      this.#next.map(async (seq, caller) => {
        await append(this.stream(caller), seq);
        this.#next[caller] = seq + 1;
      }),
    );
  }

  /** The same appends one after another: the loop a group commit must beat. */
  async sequential(append: (stream: string, seq: number) => Promise<unknown> | unknown): Promise<void> {
    for (let caller = 0; caller < this.count; caller++) {
      const seq = this.#next[caller]!;
      await append(this.stream(caller), seq);
      this.#next[caller] = seq + 1;
    }
  }
}
