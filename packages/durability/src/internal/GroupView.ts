import { readBatches, type DurableStore } from '@liminal/store';
import { codec, type GroupRecord } from '../codec.js';
import { assignPartitions, partitionsOf } from './assignPartitions.js';

const LOG_BATCH = 1024;

/**
 * A member's replay of the group's membership log: who is in the group and
 * who owns which partition. Every member replays the same log through the
 * same pure `assignPartitions`, so all of them agree on the owners at each
 * log position without talking to each other.
 */
export class GroupView {
  /** The next log sequence to read (= entries applied). */
  position = 0;
  /** Live members: incarnation → memberId. */
  readonly members = new Map<number, string>();
  #owners: (number | undefined)[];

  constructor(readonly partitions: number) {
    this.#owners = Array.from({ length: partitions }, () => undefined);
  }

  get owners(): readonly (number | undefined)[] {
    return this.#owners;
  }

  partitionsOf(incarnation: number): number[] {
    return partitionsOf(this.#owners, incarnation);
  }

  /** Live incarnations, ascending. */
  sortedMembers(): number[] {
    return [...this.members.keys()].sort((a, b) => a - b);
  }

  /** Reads and applies every log entry after `position`; true if the membership changed. */
  async catchUp(store: DurableStore, log: string): Promise<boolean> {
    let changed = false;
    for await (const batch of readBatches(store, log, this.position, LOG_BATCH)) {
      for (const entry of batch) {
        changed = this.apply(entry.sequence, codec.decodeAs(entry.payload, 'memberJoined', 'memberLeft', 'leaseReleased')) || changed;
        this.position = entry.sequence + 1;
      }
    }
    return changed;
  }

  apply(sequence: number, record: GroupRecord): boolean {
    if (record.kind === 'leaseReleased') return false;
    if (record.kind === 'memberJoined') this.members.set(sequence, record.memberId);
    else if (!this.members.delete(record.incarnation)) return false;
    this.#owners = assignPartitions(this.partitions, [...this.members.keys()], this.#owners);
    return true;
  }

  /** The member after `incarnation` in ascending order, wrapping around; `undefined` when alone. */
  successorOf(incarnation: number): number | undefined {
    const sorted = this.sortedMembers().filter((m) => m !== incarnation);
    if (sorted.length === 0) return undefined;
    return sorted.find((m) => m > incarnation) ?? sorted[0];
  }
}
