import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions, partitionsOf } from '../src/internal/assignPartitions.js';

const counts = (owners: readonly (number | undefined)[], members: readonly number[]) => members.map((m) => partitionsOf(owners, m).length);

/** A group history: partitions, then member sets applied in turn from nobody owning anything. */
const history = fc.record({
  partitions: fc.integer({ min: 1, max: 40 }),
  steps: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
});

function replay(partitions: number, steps: readonly (readonly number[])[]): (number | undefined)[] {
  let owners: (number | undefined)[] = Array.from({ length: partitions }, () => undefined);
  for (const members of steps) owners = assignPartitions(partitions, members, owners);
  return owners;
}

describe('assignPartitions', () => {
  it('gives every partition to a live member, counts differing by at most one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }), { maxLength: 64 }),
        (partitions, members, current) => {
          const owners = assignPartitions(partitions, members, current);
          expect(owners).toHaveLength(partitions);
          for (const owner of owners) expect(members).toContain(owner);
          const perMember = counts(owners, members);
          expect(Math.max(...perMember) - Math.min(...perMember)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('is deterministic and ignores the order of the members', () => {
    fc.assert(
      fc.property(history, fc.nat(), ({ partitions, steps }, rotate) => {
        const before = replay(partitions, steps.slice(0, -1));
        const members = steps.at(-1) as number[];
        const cut = rotate % members.length;
        const shuffled = [...members.slice(cut), ...members.slice(0, cut)].reverse();
        expect(assignPartitions(partitions, shuffled, before)).toEqual(assignPartitions(partitions, members, before));
      }),
    );
  });

  it('changes nothing when the members stay the same', () => {
    fc.assert(
      fc.property(history, ({ partitions, steps }) => {
        const owners = replay(partitions, steps);
        expect(assignPartitions(partitions, steps.at(-1) as number[], owners)).toEqual(owners);
      }),
    );
  });

  it('a join moves only the partitions the newcomer receives, and no more than it must', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 100, max: 200 }), ({ partitions, steps }, newcomer) => {
        const members = steps.at(-1) as number[];
        const before = replay(partitions, steps);
        const after = assignPartitions(partitions, [...members, newcomer], before);
        const moved = after.filter((owner, p) => owner !== before[p]);
        expect(moved.every((owner) => owner === newcomer)).toBe(true);
        expect(moved.length).toBe(Math.floor(partitions / (members.length + 1)));
      }),
    );
  });

  it('a leave moves only the partitions of the member that left', () => {
    fc.assert(
      fc.property(history, fc.nat(), ({ partitions, steps }, pick) => {
        const members = steps.at(-1) as number[];
        fc.pre(members.length >= 2);
        const gone = members[pick % members.length] as number;
        const before = replay(partitions, steps);
        const after = assignPartitions(
          partitions,
          members.filter((m) => m !== gone),
          before,
        );
        after.forEach((owner, p) => {
          if (before[p] !== gone) expect(owner).toBe(before[p]);
          else expect(owner).not.toBe(gone);
        });
      }),
    );
  });

  it('owns nothing without members', () => {
    expect(assignPartitions(3, [], [1, 2, 3])).toEqual([undefined, undefined, undefined]);
  });

  it('spreads 8 partitions over 3 members as 3, 3, 2 and hands a dead member’s 3 to the others', () => {
    const three = assignPartitions(8, [7, 3, 5], []);
    expect(three).toEqual([3, 3, 3, 5, 5, 5, 7, 7]);
    const two = assignPartitions(8, [3, 7], three);
    expect(counts(two, [3, 7])).toEqual([4, 4]);
    expect(two.filter((owner, p) => owner !== three[p] && three[p] !== 5)).toEqual([]);
  });
});
