import { assertName, type DurableStore } from '@liminal/store';
import { cursorKeyFor } from './ConsumerCursor.js';
import { parseStoreKey } from './parseStoreKey.js';
import { storeKeyPrefix } from './storeKey.js';

/** A channel found in a store, with the head offset (stream length) of each partition. */
export interface ChannelInfo {
  readonly name: string;
  /** Partitions `0 … partitions.length - 1`; a partition nothing was published to has head 0. */
  readonly partitions: readonly { readonly partition: number; readonly head: number }[];
}

/** Where one consumer (or group: its cursor is keyed by the group name) stands in one partition. */
export interface ConsumerPosition {
  readonly consumerId: string;
  readonly partition: number;
  /** The committed offset: the next entry to read. */
  readonly offset: number;
  /** Entries published and not yet committed: `head - offset` (never negative). */
  readonly lag: number;
}

const PAGE = 1000;
const PARTITION = /^(0|[1-9][0-9]*)$/;

/**
 * Every channel in the store, found without knowing their names: the
 * partition streams (`partitionStreamFor`). The partition count is one past
 * the highest partition that has a message. Costs one listing of the
 * partition stream names plus one length read per partition: for tools, not hot paths.
 */
export async function listChannels(store: DurableStore): Promise<ChannelInfo[]> {
  return [...(await partitionHeads(store, storeKeyPrefix('partition')))].map(([name, heads]) => channelInfo(name, heads));
}

/** The channel `name` as `listChannels` would report it, or `undefined` when no partition of it has a message. */
export async function readChannel(store: DurableStore, name: string): Promise<ChannelInfo | undefined> {
  assertName('channel', name);
  const heads = (await partitionHeads(store, storeKeyPrefix('partition', name))).get(name);
  return heads === undefined ? undefined : channelInfo(name, heads);
}

/** Channel name -> partition -> head, for the channel partition streams under `prefix`. */
async function partitionHeads(store: DurableStore, prefix: string): Promise<Map<string, Map<number, number>>> {
  const channels = new Map<string, Map<number, number>>();
  let after: string | undefined;
  for (;;) {
    const names = await store.listStreams(prefix, after === undefined ? { limit: PAGE } : { after, limit: PAGE });
    if (names.length === 0) return channels;
    after = names.at(-1);
    for (const stream of names) {
      const parts = parseStoreKey(stream);
      if (parts?.length !== 3 || !PARTITION.test(parts[2]!)) continue;
      const [, channel, partition] = parts as [string, string, string];
      const heads = channels.get(channel) ?? new Map<number, number>();
      heads.set(Number(partition), await store.streamLength(stream));
      channels.set(channel, heads);
    }
  }
}

/**
 * Every consumer cursor of `channel` (`cursorKeyFor` counters), sorted by
 * consumer then partition, with its lag. Lists every cursor of the store once
 * (cursor keys start with the consumer, not the channel).
 */
export async function listConsumerPositions(store: DurableStore, channel: ChannelInfo): Promise<ConsumerPosition[]> {
  const heads = new Map(channel.partitions.map(({ partition, head }) => [partition, head]));
  const positions: ConsumerPosition[] = [];
  const prefix = storeKeyPrefix('cursor');
  let after: string | undefined;
  for (;;) {
    const values = await store.listValues(prefix, after === undefined ? { limit: PAGE } : { after, limit: PAGE });
    if (values.length === 0) break;
    after = values.at(-1)!.key;
    for (const { key, value } of values) {
      const parts = parseStoreKey(key);
      if (parts?.length !== 4 || parts[2] !== channel.name || !PARTITION.test(parts[3]!)) continue;
      const partition = Number(parts[3]);
      const head = heads.get(partition);
      if (head === undefined) continue;
      positions.push({ consumerId: parts[1]!, partition, offset: value, lag: Math.max(0, head - value) });
    }
  }
  return positions.sort((a, b) => (a.consumerId < b.consumerId ? -1 : a.consumerId > b.consumerId ? 1 : a.partition - b.partition));
}

/** The positions of one consumer (or group) in every partition of `channel`, 0 where it never committed. */
export async function readConsumerPositions(store: DurableStore, channel: ChannelInfo, consumerId: string): Promise<ConsumerPosition[]> {
  assertName('consumerId', consumerId);
  return Promise.all(
    channel.partitions.map(async ({ partition, head }) => {
      const offset = (await store.readValue(cursorKeyFor(consumerId, channel.name, partition))) ?? 0;
      return { consumerId, partition, offset, lag: Math.max(0, head - offset) };
    }),
  );
}

function channelInfo(name: string, heads: ReadonlyMap<number, number>): ChannelInfo {
  const count = Math.max(...heads.keys()) + 1;
  return { name, partitions: Array.from({ length: count }, (_, partition) => ({ partition, head: heads.get(partition) ?? 0 })) };
}
