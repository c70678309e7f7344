import { storeKey } from '../storeKey.js';

/**
 * The store names of one worker group of one channel, all tagged `group`, so
 * they never meet a partition stream, a cursor or a dedup stream.
 */
export interface GroupKeys {
  /**
   * The membership log's name, and the prefix every epoch of it shares (the
   * one a member watches): epoch 0 is this stream itself, epoch n > 0 the
   * stream `logStream(n)` below it (see `MembershipLog`).
   */
  readonly log: string;
  /** The stream of the membership log's `epoch`: `memberJoined` / `memberLeft` / `leaseReleased` records, after a `groupSnapshot` from epoch 1 on. */
  logStream(epoch: number): string;
  /** Counter: the membership log's current epoch, bumped by each compaction (absent = 0). */
  readonly logEpoch: string;
  /** Counter a member increments every heartbeat. */
  heartbeat(incarnation: number): string;
  /** Counter: the incarnation + 1 of the member holding partition `p`, 0 when free. */
  holder(partition: number): string;
  /** Counter bumped on every change of holder; every work commit checks it. */
  epoch(partition: number): string;
}

export function groupKeysFor(channel: string, group: string): GroupKeys {
  const log = storeKey('group', channel, group, 'members');
  return {
    log,
    logStream: (epoch) => (epoch === 0 ? log : storeKey('group', channel, group, 'members', epoch)),
    logEpoch: storeKey('group', channel, group, 'logEpoch'),
    heartbeat: (incarnation) => storeKey('group', channel, group, 'heartbeat', incarnation),
    holder: (partition) => storeKey('group', channel, group, 'holder', partition),
    epoch: (partition) => storeKey('group', channel, group, 'epoch', partition),
  };
}
