type Cons<T> = { readonly head: T; readonly tail: Cons<T> } | undefined;

/**
 * An immutable FIFO queue (two linked lists, the back one reversed on demand):
 * `push`, `shift` and `unshift` are O(1) amortized, where an array copied on
 * every change costs O(length), which made a burst of sends quadratic.
 */
export class Fifo<T> {
  private static readonly none = new Fifo<never>(undefined, undefined, 0);

  private constructor(
    private readonly front: Cons<T>,
    private readonly back: Cons<T>,
    readonly length: number,
  ) {}

  static empty<T>(): Fifo<T> {
    return Fifo.none;
  }

  push(item: T): Fifo<T> {
    return new Fifo(this.front, { head: item, tail: this.back }, this.length + 1);
  }

  /** Puts `item` at the front: it is the next one out. */
  unshift(item: T): Fifo<T> {
    return new Fifo({ head: item, tail: this.front }, this.back, this.length + 1);
  }

  /** Whether some item satisfies `predicate` (O(length): for rare checks, not every push). */
  some(predicate: (item: T) => boolean): boolean {
    for (let node = this.front; node !== undefined; node = node.tail) if (predicate(node.head)) return true;
    for (let node = this.back; node !== undefined; node = node.tail) if (predicate(node.head)) return true;
    return false;
  }

  /** The oldest item and the queue without it, or `undefined` when empty. */
  shift(): readonly [T, Fifo<T>] | undefined {
    let { front, back } = this;
    if (front === undefined) {
      for (; back !== undefined; back = back.tail) front = { head: back.head, tail: front };
    }
    if (front === undefined) return undefined;
    return [front.head, new Fifo(front.tail, back, this.length - 1)];
  }
}
