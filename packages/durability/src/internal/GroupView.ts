import { DecodeError } from '@liminal/store';
import type { GroupRecord, GroupSnapshot } from '../codec.js';
import { assignPartitions, partitionsOf } from './assignPartitions.js';

/**
 * A member's replay of the group's membership log: who is in the group and
 * who owns which partition. Every member replays the same log through the
 * same pure `assignPartitions`, so all of them agree on the owners at each
 * log position without talking to each other. `MembershipLog` reads the log
 * into it.
 */
export class GroupView {
  /** The next log position to apply (= records the group appended before it, across compactions). */
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

  /** Applies the record at log position `position` (the next one). */
  apply(position: number, record: Exclude<GroupRecord, GroupSnapshot>): void {
    this.position = position + 1;
    if (record.kind === 'leaseReleased') return;
    if (record.kind === 'memberJoined') this.members.set(position, record.memberId);
    else if (!this.members.delete(record.incarnation)) return;
    this.#owners = assignPartitions(this.partitions, [...this.members.keys()], this.#owners);
  }

  /** This state as the first record of a compacted log. */
  snapshot(): GroupSnapshot {
    return {
      kind: 'groupSnapshot',
      position: this.position,
      members: this.sortedMembers().map((incarnation) => ({ incarnation, memberId: this.members.get(incarnation)! })),
      owners: [...this.#owners],
    };
  }

  /** Replaces this state with a snapshot's (a compacted log's first record). */
  restore(snapshot: GroupSnapshot): void {
    if (snapshot.owners.length !== this.partitions) {
      throw new DecodeError(`group snapshot has owners for ${snapshot.owners.length} partitions, the channel has ${this.partitions}`);
    }
    this.members.clear();
    for (const { incarnation, memberId } of snapshot.members) this.members.set(incarnation, memberId);
    this.#owners = [...snapshot.owners];
    this.position = snapshot.position;
  }

  /** The member after `incarnation` in ascending order, wrapping around; `undefined` when alone. */
  successorOf(incarnation: number): number | undefined {
    const sorted = this.sortedMembers().filter((m) => m !== incarnation);
    if (sorted.length === 0) return undefined;
    return sorted.find((m) => m > incarnation) ?? sorted[0];
  }
}
