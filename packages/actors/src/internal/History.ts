/**
 * An immutable list with O(1) append. Each version shares every older entry
 * with the version it came from, so a machine context can grow its log on
 * every message without copying it: copying an array per message made a
 * conversation's cost per message grow with the number of messages it had seen.
 */
export class History<T> {
  private static readonly none = new History<never>(undefined, undefined, 0);

  private constructor(
    private readonly last: T | undefined,
    private readonly previous: History<T> | undefined,
    readonly length: number,
  ) {}

  static empty<T>(): History<T> {
    return History.none;
  }

  append(...entries: readonly T[]): History<T> {
    return entries.reduce<History<T>>((history, entry) => new History(entry, history, history.length + 1), this);
  }

  /** The entries after the first `length`, oldest first (O(entries returned)). */
  since(length: number): T[] {
    const entries: T[] = this.length > length ? [this.last as T] : [];
    for (let node = this.previous; node !== undefined && node.length > length; node = node.previous) entries.push(node.last as T);
    return entries.reverse();
  }

  /** Oldest first. */
  toArray(): T[] {
    // A node's length is its entry's position + 1.
    const entries = new Array<T>(this.length);
    if (this.length > 0) entries[this.length - 1] = this.last as T;
    for (let node = this.previous; node !== undefined && node.length > 0; node = node.previous) entries[node.length - 1] = node.last as T;
    return entries;
  }
}
