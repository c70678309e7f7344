import {
  listChannels,
  listConsumerPositions,
  listDedupKeys,
  listGroups,
  type GroupInfo,
  readChannel,
  readConsumerPositions,
  type ConsumerPosition,
  type DedupKeyState,
} from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { NotFoundError } from './errors.js';

/** One line of `liminal channels`. */
export interface ChannelRow {
  readonly name: string;
  readonly partitions: number;
  /** Messages ever published: the sum of the partitions' head offsets. */
  readonly published: number;
  /** Consumers (or groups) with a committed cursor on the channel. */
  readonly consumers: readonly string[];
  /** The largest lag of any consumer on any partition. */
  readonly maxLag: number;
}

/** `liminal lag <channel>`: each partition's head, and each consumer's cursor and lag on it. */
export interface LagView {
  readonly channel: string;
  readonly partitions: readonly { readonly partition: number; readonly head: number }[];
  readonly positions: readonly ConsumerPosition[];
  /** Sum of every position's lag. */
  readonly totalLag: number;
}

export async function channelRows(store: DurableStore): Promise<ChannelRow[]> {
  const rows: ChannelRow[] = [];
  for (const channel of await listChannels(store)) {
    const positions = await listConsumerPositions(store, channel);
    rows.push({
      name: channel.name,
      partitions: channel.partitions.length,
      published: channel.partitions.reduce((sum, { head }) => sum + head, 0),
      consumers: [...new Set(positions.map((position) => position.consumerId))],
      maxLag: positions.reduce((max, { lag }) => Math.max(max, lag), 0),
    });
  }
  return rows;
}

/** The lag of every consumer of `name`, or of `group` only (0 where it never committed). */
export async function lagView(store: DurableStore, name: string, group?: string): Promise<LagView> {
  const channel = await readChannel(store, name);
  if (channel === undefined) throw new NotFoundError('channel', name);
  const positions = group === undefined ? await listConsumerPositions(store, channel) : await readConsumerPositions(store, channel, group);
  return { channel: name, partitions: channel.partitions, positions, totalLag: positions.reduce((sum, { lag }) => sum + lag, 0) };
}

/** `liminal groups <channel>`: every worker group of the channel, its members, leases with epochs and cursors. */
export interface GroupsView {
  readonly channel: string;
  readonly groups: readonly GroupInfo[];
}

export async function groupsView(store: DurableStore, name: string): Promise<GroupsView> {
  const channel = await readChannel(store, name);
  if (channel === undefined) throw new NotFoundError('channel', name);
  return { channel: name, groups: await listGroups(store, channel) };
}

/** One key of `liminal claims`: its state, and for a claim whether its lease has expired at "now". */
export type ClaimRow = DedupKeyState & { readonly ageMs: number; readonly expired?: boolean };

/** `liminal claims <namespace>`: a page of a dedup namespace's keys, in flight only with `inFlight`. */
export interface ClaimsView {
  readonly namespace: string;
  readonly claims: readonly ClaimRow[];
  readonly next?: string;
}

export async function claimsView(
  store: DurableStore,
  namespace: string,
  options: { readonly inFlight: boolean; readonly limit: number; readonly after?: string },
  nowMs: number,
): Promise<ClaimsView> {
  const claims: ClaimRow[] = [];
  let after = options.after;
  // With --in-flight most entries may be completed: keep paging until the page is full or the namespace ends.
  for (;;) {
    const page = await listDedupKeys(store, namespace, { limit: options.limit, ...(after === undefined ? {} : { after }) });
    for (const entry of page.entries) {
      if (entry.state === 'claimed') claims.push({ ...entry, ageMs: Math.max(0, nowMs - entry.claimedAtMs), expired: nowMs >= entry.expiresAtMs });
      else if (!options.inFlight) claims.push({ ...entry, ageMs: Math.max(0, nowMs - entry.completedAtMs) });
    }
    after = page.next;
    if (after === undefined) return { namespace, claims };
    if (claims.length >= options.limit) return { namespace, claims, next: after };
  }
}
