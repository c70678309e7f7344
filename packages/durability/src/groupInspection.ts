import { assertName, type DurableStore } from '@liminal/store';
import type { ChannelInfo } from './channelInspection.js';
import { cursorKeyFor } from './ConsumerCursor.js';
import { groupKeysFor } from './internal/groupKeys.js';
import { GroupView } from './internal/GroupView.js';
import { MembershipLog } from './internal/MembershipLog.js';
import { parseStoreKey } from './parseStoreKey.js';
import { storeKeyPrefix } from './storeKey.js';

/** A worker group of a channel as its store records say (membership log, heartbeats, leases, cursors). */
export interface GroupInfo {
  readonly group: string;
  /** Live members in join order: `incarnation` is the position of its `memberJoined` record. */
  readonly members: readonly {
    readonly incarnation: number;
    readonly memberId: string;
    /** The member's heartbeat counter (it increments it every heartbeat; compare two readings to see it alive). */
    readonly heartbeats: number;
    /** The partitions the membership log assigns it. */
    readonly assigned: readonly number[];
  }[];
  readonly partitions: readonly {
    readonly partition: number;
    /** The incarnation holding the partition's lease, `undefined` when free (handed over or never taken). */
    readonly holder: number | undefined;
    readonly holderId: string | undefined;
    /** The lease epoch: bumped on every change of holder; every work commit checks it. */
    readonly epoch: number;
    readonly offset: number;
    readonly lag: number;
  }[];
  /** Records ever appended to the membership log (joins, leaves, lease releases). */
  readonly logLength: number;
  /** Times the log was compacted: a join replays its latest snapshot and the records after it only. */
  readonly logCompactions: number;
}

/** The worker groups that ever joined `channel` (`channel.join(group)`), read without joining. */
export async function listGroups(store: DurableStore, channel: ChannelInfo): Promise<GroupInfo[]> {
  const groups: GroupInfo[] = [];
  let after: string | undefined;
  const prefix = storeKeyPrefix('group', channel.name);
  for (;;) {
    const names = await store.listStreams(prefix, after === undefined ? { limit: 1000 } : { after, limit: 1000 });
    if (names.length === 0) return groups;
    after = names.at(-1);
    for (const name of names) {
      // The log's epoch 0 is `…/members`, a later epoch `…/members/<n>`: only one of them exists at a time, bar a moment.
      const parts = parseStoreKey(name);
      const group = parts?.[2];
      if (group !== undefined && parts?.[3] === 'members' && (parts.length === 4 || parts.length === 5) && groups.at(-1)?.group !== group) {
        groups.push(await readGroup(store, channel, group));
      }
    }
  }
}

/** One worker group of `channel`, as `listGroups` reports it. */
export async function readGroup(store: DurableStore, channel: ChannelInfo, group: string): Promise<GroupInfo> {
  assertName('group', group);
  const keys = groupKeysFor(channel.name, group);
  const view = new GroupView(channel.partitions.length);
  const log = new MembershipLog(store, keys, view);
  await log.catchUp();
  const members = await Promise.all(
    view.sortedMembers().map(async (incarnation) => ({
      incarnation,
      memberId: view.members.get(incarnation)!,
      heartbeats: (await store.readValue(keys.heartbeat(incarnation))) ?? 0,
      assigned: view.partitionsOf(incarnation),
    })),
  );
  const partitions = await Promise.all(
    channel.partitions.map(async ({ partition, head }) => {
      const held = (await store.readValue(keys.holder(partition))) ?? 0;
      const holder = held === 0 ? undefined : held - 1;
      const offset = (await store.readValue(cursorKeyFor(group, channel.name, partition))) ?? 0;
      return {
        partition,
        holder,
        holderId: holder === undefined ? undefined : view.members.get(holder),
        epoch: (await store.readValue(keys.epoch(partition))) ?? 0,
        offset,
        lag: Math.max(0, head - offset),
      };
    }),
  );
  return { group, members, partitions, logLength: view.position, logCompactions: log.epoch };
}
