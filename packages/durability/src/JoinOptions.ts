import { ConfigError } from '@liminal/store';
import { nanoid } from 'nanoid';
import { systemClock, type Clock } from './Clock.js';
import type { MonotonicClock } from './MonotonicClock.js';
import { monotonicClock } from './MonotonicClock.js';

/** Options of `DurableChannel.join`. Every duration is in milliseconds. */
export interface JoinOptions {
  /** A name for this member in logs and `members()`; default a random id. */
  readonly memberId?: string;
  /** A member whose heartbeat has not moved for this long (on the observer's own clock), and across as many of the observer's beats as it holds, is dead; default 2000. */
  readonly leaseMs?: number;
  /** Rest between the end of a member's beat (its heartbeat write, its neighbour's check) and the next; default 0.55 × `leaseMs` (1100 for the default lease); must be below `leaseMs`. */
  readonly heartbeatMs?: number;
  /** Fallback read of the membership log and of idle partitions when no `watch` wake-up came; default 60000. */
  readonly pollMs?: number;
  /** Envelopes read per partition read; default 64. */
  readonly batchSize?: number;
  /**
   * Most messages of one partition whose work commits together: of the
   * envelopes one read returned, up to this many run one after the other
   * and are committed in ONE store commit (their receipts and effects, one
   * cursor advance, one lease check). A batch is only ever what was already
   * read, never waited for: a message that arrives alone commits alone at
   * once. Larger batches cost fewer commits per message (a backlog drains
   * faster) but a member stops or hands a partition over only between
   * batches, and a batch whose lease is lost before its commit (the member
   * was declared dead) is redone whole by the next holder; default 64 (one
   * read's worth with the default `batchSize`). 1 commits every message alone.
   */
  readonly messagesPerCommit?: number;
  /** Membership-log records since its last compaction that make the group compact it (replaying it is what a join costs); default 256. */
  readonly compactAfter?: number;
  /** Time source for liveness decisions; default `performance.now()`. */
  readonly clock?: MonotonicClock;
  /**
   * Epoch-millisecond time of message work: when a scheduled message is due
   * (and the timer that wakes its partition's worker then), and the times of
   * message claims and receipts; default `systemClock`. Tests pass a manual clock.
   */
  readonly wallClock?: Clock;
}

export interface GroupSettings {
  readonly memberId: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly pollMs: number;
  readonly batchSize: number;
  readonly messagesPerCommit: number;
  readonly compactAfter: number;
  readonly clock: MonotonicClock;
  readonly wallClock: Clock;
}

export const DEFAULT_LEASE_MS = 2_000;
/*
 * The defaults meet two budgets at once: an idle member costs
 * 2 / 1.1 s (its heartbeat and its neighbour's) + (held partitions + 2) / 60 s
 * (the partitions, and the log's epoch and stream) ≈ 1.9 queries/s with 3
 * partitions (≤ 2 up to 8), and a dead member is
 * declared after 2 beats ≈ 2.2 s, so failover stays under 3 s.
 */
export const DEFAULT_HEARTBEAT_MS = 1_100;
/** A member beats a little more than once per half lease: a dead one is found after two beats. */
const HEARTBEAT_SHARE = DEFAULT_HEARTBEAT_MS / DEFAULT_LEASE_MS;
export const DEFAULT_POLL_MS = 60_000;
const DEFAULT_BATCH_SIZE = 64;
/*
 * A backlog then drains at one commit and one read per 64 messages, as a job
 * queue fetching and completing 64 jobs per statement does.
 */
const DEFAULT_MESSAGES_PER_COMMIT = 64;
/** A join replays at most this many records (one read) plus a snapshot; a compaction is one commit every this many changes. */
const DEFAULT_COMPACT_AFTER = 256;

const KNOWN = new Set(['memberId', 'leaseMs', 'heartbeatMs', 'pollMs', 'batchSize', 'messagesPerCommit', 'compactAfter', 'clock', 'wallClock']);

/** Validates `join` options (`ConfigError` on anything wrong) and fills in the defaults. */
export function groupSettings(options: JoinOptions | undefined): GroupSettings {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigError('join options must be an object');
  const unknown = Object.keys(options).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw new ConfigError(`unknown join option(s): ${unknown.join(', ')}`);
  const { memberId = nanoid(), clock = monotonicClock, wallClock = systemClock } = options;
  if (typeof memberId !== 'string' || memberId.length === 0) throw new ConfigError(`memberId must be a non-empty string, got ${JSON.stringify(memberId)}`);
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') throw new ConfigError('clock must have a now() method');
  if (typeof wallClock !== 'object' || wallClock === null || !['now', 'setTimeout', 'clearTimeout'].every((method) => typeof wallClock[method as keyof Clock] === 'function')) {
    throw new ConfigError('wallClock must be a Clock: now(), setTimeout(callback, ms), clearTimeout(handle)');
  }
  const leaseMs = positive('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS);
  const heartbeatMs = positive('heartbeatMs', options.heartbeatMs ?? Math.max(1, Math.round(leaseMs * HEARTBEAT_SHARE)));
  const pollMs = positive('pollMs', options.pollMs ?? DEFAULT_POLL_MS);
  const batchSize = positive('batchSize', options.batchSize ?? DEFAULT_BATCH_SIZE);
  const messagesPerCommit = positive('messagesPerCommit', options.messagesPerCommit ?? DEFAULT_MESSAGES_PER_COMMIT);
  const compactAfter = positive('compactAfter', options.compactAfter ?? DEFAULT_COMPACT_AFTER);
  if (leaseMs <= heartbeatMs) {
    throw new ConfigError(`leaseMs (${leaseMs}) must be greater than heartbeatMs (${heartbeatMs}): a live member must beat at least once per lease`);
  }
  return { memberId, leaseMs, heartbeatMs, pollMs, batchSize, messagesPerCommit, compactAfter, clock, wallClock };
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${name} must be a positive safe integer, got ${String(value)}`);
  }
  return value;
}
