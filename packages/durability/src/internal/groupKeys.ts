import { storeKey } from '../storeKey.js';

/**
 * The store names of one worker group of one channel, all tagged `group`, so
 * they never meet a partition stream, a cursor or a dedup stream.
 */
export interface GroupKeys {
  /** The membership log: `memberJoined` / `memberLeft` / `leaseReleased` records. */
  readonly log: string;
  /** Counter a member increments every heartbeat. */
  heartbeat(incarnation: number): string;
  /** Counter: the incarnation + 1 of the member holding partition `p`, 0 when free. */
  holder(partition: number): string;
  /** Counter bumped on every change of holder; every work commit checks it. */
  epoch(partition: number): string;
}

export function groupKeysFor(channel: string, group: string): GroupKeys {
  return {
    log: storeKey('group', channel, group, 'members'),
    heartbeat: (incarnation) => storeKey('group', channel, group, 'heartbeat', incarnation),
    holder: (partition) => storeKey('group', channel, group, 'holder', partition),
    epoch: (partition) => storeKey('group', channel, group, 'epoch', partition),
  };
}
