/**
 * The last `capacity` ids added, with O(1) membership: a ring of ids evicts
 * the oldest as a new one arrives, so memory stays bounded however long the
 * channel lives.
 */
export class RecentIds {
  readonly #members = new Set<string>();
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array<string | undefined>(capacity);
  }

  has(id: string): boolean {
    return this.#members.has(id);
  }

  add(id: string): void {
    if (this.#members.has(id)) return;
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#members.delete(evicted);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#members.add(id);
  }
}
