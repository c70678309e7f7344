/**
 * Which member owns each partition, given the live members and the owners
 * before this change. Pure and deterministic: every member of a group replays
 * the same membership log through it and so computes the same owners without
 * asking anyone.
 *
 * - Fair: owned counts differ by at most one (`P mod n` members own one more).
 * - Sticky: a member keeps what it owned up to its quota, and the members that
 *   already own the most get the larger quotas, so a join moves only the
 *   partitions the newcomer must receive and a leave (or death) moves only the
 *   partitions of the member that went.
 * - Order-independent: members are sorted, so the input order does not matter.
 *
 * Members are numbers (a member's incarnation: the sequence of its join
 * record). `current[p]` is the previous owner of `p` or `undefined`; owners
 * that are not in `members` count as gone. Returns `undefined` owners only
 * when there are no members.
 */
export function assignPartitions(
  partitions: number,
  members: readonly number[],
  current: readonly (number | undefined)[],
): (number | undefined)[] {
  const sorted = [...new Set(members)].sort((a, b) => a - b);
  if (sorted.length === 0) return Array.from({ length: partitions }, () => undefined);
  const owned = new Map<number, number>(sorted.map((member) => [member, 0]));
  for (let p = 0; p < partitions; p++) {
    const owner = current[p];
    if (owner !== undefined && owned.has(owner)) owned.set(owner, (owned.get(owner) as number) + 1);
  }
  const base = Math.floor(partitions / sorted.length);
  const larger = partitions % sorted.length;
  // The members owning the most keep the larger quotas: that is what makes a change move the fewest partitions.
  const byOwned = [...sorted].sort((a, b) => (owned.get(b) as number) - (owned.get(a) as number) || a - b);
  const quota = new Map<number, number>(byOwned.map((member, rank) => [member, base + (rank < larger ? 1 : 0)]));

  const result: (number | undefined)[] = Array.from({ length: partitions }, () => undefined);
  const kept = new Map<number, number>(sorted.map((member) => [member, 0]));
  const free: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const owner = current[p];
    if (owner !== undefined && quota.has(owner) && (kept.get(owner) as number) < (quota.get(owner) as number)) {
      result[p] = owner;
      kept.set(owner, (kept.get(owner) as number) + 1);
    } else {
      free.push(p);
    }
  }
  let next = 0;
  for (const p of free) {
    while ((kept.get(sorted[next] as number) as number) >= (quota.get(sorted[next] as number) as number)) next++;
    const member = sorted[next] as number;
    result[p] = member;
    kept.set(member, (kept.get(member) as number) + 1);
  }
  return result;
}

/** The partitions `member` owns in `owners`, ascending. */
export function partitionsOf(owners: readonly (number | undefined)[], member: number): number[] {
  const mine: number[] = [];
  owners.forEach((owner, p) => {
    if (owner === member) mine.push(p);
  });
  return mine;
}
