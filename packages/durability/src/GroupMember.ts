import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertName,
  CasConflictError,
  CommitConflictError,
  InvalidArgumentError,
  type DurableStore,
} from '@liminal/store';
import type { MessageHandler } from './ChannelConsumer.js';
import type { DurableChannel } from './DurableChannel.js';
import { LeaseLostError, type MessageFailedError } from './errors.js';
import { groupKeysFor, type GroupKeys } from './internal/groupKeys.js';
import { GroupView } from './internal/GroupView.js';
import { HeartbeatObserver } from './internal/HeartbeatObserver.js';
import { MembershipLog } from './internal/MembershipLog.js';
import { isOutage, workPartition } from './internal/partitionWork.js';
import { Wakeups } from './internal/Wakeups.js';
import { groupSettings, type GroupSettings, type JoinOptions } from './JoinOptions.js';

export type PartitionsListener = (partitions: readonly number[]) => void;
export type LeaseLostListener = (error: LeaseLostError) => void;
export type MessageFailedListener = (error: MessageFailedError) => void;

interface Listeners {
  assigned: PartitionsListener;
  revoked: PartitionsListener;
  lost: LeaseLostListener;
  failed: MessageFailedListener;
}

export interface GroupRunOptions {
  /** Aborting it stops `run` at the next batch boundary (the member stays joined). */
  readonly signal?: AbortSignal;
}

interface Worker {
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

interface Lease {
  readonly epoch: number;
  worker?: Worker | undefined;
}

/** A lease this member stopped working on and still has to free: the holder value it wrote, and its epoch. */
interface Release {
  readonly holder: number;
  readonly epoch: number;
}

interface ActiveRun {
  readonly handler: MessageHandler;
  readonly signal: AbortSignal;
  readonly end: (error?: unknown) => void;
}

/**
 * One process's membership in a worker group of a `DurableChannel`: the
 * group's partitions are spread fairly over its live members, each partition
 * processed by one member at a time from the group's cursor. Created by
 * `channel.join(group, options)`; see the package README, "Worker groups",
 * for the protocol (membership log, heartbeats, leases with epochs).
 */
export class GroupMember {
  readonly memberId: string;
  readonly settings: GroupSettings;
  readonly #store: DurableStore;
  readonly #keys: GroupKeys;
  readonly #view: GroupView;
  readonly #log: MembershipLog;
  readonly #observer: HeartbeatObserver;
  readonly #wakeups: Wakeups;
  readonly #held = new Map<number, Lease>();
  /**
   * Partitions handed over whose release has not committed yet. Kept until
   * it does: a release lost to an outage would otherwise leave the lease
   * with this live member, which nobody else may take.
   */
  readonly #releasing = new Map<number, Release>();
  readonly #listeners: { [E in keyof Listeners]: Set<Listeners[E]> } = { assigned: new Set(), revoked: new Set(), lost: new Set(), failed: new Set() };
  readonly #life = new AbortController();
  #incarnation = -1;
  #beats = 0;
  #logSeen = -1;
  #logDirty = true;
  #nextPollAt = 0;
  #state: 'joined' | 'leaving' | 'left' = 'joined';
  #control: Promise<void> = Promise.resolve();
  #run: ActiveRun | undefined;

  private constructor(
    readonly channel: DurableChannel,
    readonly group: string,
    settings: GroupSettings,
  ) {
    this.settings = settings;
    this.memberId = settings.memberId;
    this.#store = channel.store;
    this.#keys = groupKeysFor(channel.name, group);
    this.#view = new GroupView(channel.partitions);
    this.#log = new MembershipLog(channel.store, this.#keys, this.#view);
    // As many readings as a lease holds beats: 2 with the defaults (2000 / 1100 rounded up).
    this.#observer = new HeartbeatObserver(settings.leaseMs, Math.ceil(settings.leaseMs / settings.heartbeatMs), settings.clock);
    this.#wakeups = new Wakeups(channel.store);
  }

  /** Use `channel.join(group, options)`. Bad options are a `ConfigError` before anything is stored. */
  static async join(channel: DurableChannel, group: string, options?: JoinOptions): Promise<GroupMember> {
    assertName('group', group);
    const member = new GroupMember(channel, group, groupSettings(options));
    member.#wakeups.follow(member.#keys.log, member.#life.signal);
    await member.#enter();
    await member.#tick();
    member.#control = member.#startLoops();
    return member;
  }

  /** This process's incarnation: the sequence of its latest join record in the membership log. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** The partitions whose lease this member holds now, ascending. */
  assignment(): readonly number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /**
   * Listens to leases won (`assigned`), handed over (`revoked`), lost to a
   * takeover (`lost`) and to failed attempts at a message (`failed`, retried
   * with backoff); returns the unsubscribe.
   */
  on<E extends keyof Listeners>(event: E, listener: Listeners[E]): () => void {
    const set = this.#listeners[event] as Set<Listeners[E]> | undefined;
    if (set === undefined) throw new InvalidArgumentError('event', `expected 'assigned', 'revoked', 'lost' or 'failed', got ${JSON.stringify(event)}`);
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener', 'expected a function');
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Processes the partitions this member holds, now and as it wins more,
   * with `handler` (effectively once per message for the group). Live: it
   * waits for new messages (store `watch`, with `pollMs` as fallback) and
   * never ends when caught up. A message that fails (the handler throws, an
   * effect conflicts, the entry does not decode) is retried with backoff on
   * its partition, reported on `failed` each time, while the other
   * partitions go on. Resolves when `signal` aborts or `leave()` is called
   * (the member stays joined on an abort); rejects only if the membership
   * loop meets an error it cannot wait out (a corrupt membership log), after
   * stopping every partition.
   */
  run(handler: MessageHandler, options: GroupRunOptions = {}): Promise<void> {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'expected a function');
    if (this.#run !== undefined) throw new InvalidArgumentError('run', 'this member is already running');
    if (this.#state !== 'joined') throw new InvalidArgumentError('run', `this member has ${this.#state === 'left' ? 'left' : 'begun leaving'} the group`);
    const stop = new AbortController();
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
    return new Promise<void>((resolve, reject) => {
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        stop.abort();
        void this.#stopWorkers().then(() => {
          if (this.#run?.signal === signal) this.#run = undefined;
          if (error === undefined) resolve();
          else reject(error);
        });
      };
      this.#run = { handler, signal, end };
      signal.addEventListener('abort', () => end(), { once: true });
      for (const [partition, lease] of this.#held) this.#startWorker(partition, lease);
    });
  }

  /**
   * Leaves the group: stops `run` at the next batch boundary, releases every
   * lease and records the leave, so the others take the partitions over at
   * once instead of waiting for the lease to expire.
   */
  async leave(): Promise<void> {
    if (this.#state !== 'joined') return;
    this.#state = 'leaving';
    this.#life.abort();
    await this.#control;
    this.#run?.end();
    await this.#handOver([...this.#held.keys()]);
    await this.#log.append({ kind: 'memberLeft', incarnation: this.#incarnation, reason: 'left' });
    this.#state = 'left';
  }

  async #enter(): Promise<void> {
    // Caught up first, so the join lands in the current epoch of the log at its end, not after a conflict.
    await this.#log.catchUp();
    this.#incarnation = await this.#log.append({ kind: 'memberJoined', memberId: this.memberId });
    this.#beats = 0;
    await this.#log.catchUp();
    this.#logDirty = false;
    // One reading of everyone now: after a whole-group restart, the dead members are found one lease
    // from now, not one lease each as they become this member's successor in turn.
    for (const member of this.#view.members.keys()) {
      if (member !== this.#incarnation) this.#observer.observe(member, await this.#store.readValue(this.#keys.heartbeat(member)));
    }
  }

  /**
   * The member's two loops, each waiting out store outages: the beat (its
   * own heartbeat, then its neighbour's) and the membership (the log and the
   * leases). Apart, so that the beat never waits behind a hand-over, which
   * waits for a revoked partition's message in flight (a slow handler would
   * otherwise get a live member declared dead).
   */
  #startLoops(): Promise<void> {
    // The beat retries an outage within half a beat, and its observer judges from its first reading after
    // the outage: members that come back from the same outage are seen beating again before a lease passes,
    // so a store restart longer than the lease does not get live members declared dead.
    const beat = this.#loop(
      () => this.#beatRound(),
      this.settings.heartbeatMs / 2,
      () => this.#observer.restart(),
    );
    return Promise.all([beat, this.#loop(() => this.#membershipRound(), 2_000)]).then(() => undefined);
  }

  /**
   * Runs `round` until the member stops; outages are waited out (backing off
   * up to `maxBackoffMs`, calling `onOutage` at each), any other error stops
   * the member's work.
   */
  async #loop(round: () => Promise<void>, maxBackoffMs: number, onOutage?: () => void): Promise<void> {
    let outageMs = 0;
    while (!this.#life.signal.aborted) {
      try {
        await round();
        outageMs = 0;
      } catch (error) {
        if (this.#life.signal.aborted) return;
        if (!isOutage(error)) {
          // A bug or a corrupt log: stop working rather than guess; the others take over after the lease.
          this.#life.abort();
          this.#run?.end(error);
          return;
        }
        onOutage?.();
        outageMs = Math.min(maxBackoffMs, Math.max(Math.min(100, maxBackoffMs), outageMs * 2));
        await sleep(outageMs, undefined, { signal: this.#life.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * One beat, then `heartbeatMs` of rest: the period runs from the end of the
   * beat, so a store slow to take writes slows this member's readings of its
   * neighbour as much as its neighbour's heartbeats (see HeartbeatObserver).
   */
  async #beatRound(): Promise<void> {
    await this.#heartbeat();
    await this.#observeSuccessor();
    await sleep(this.settings.heartbeatMs, undefined, { signal: this.#life.signal }).catch(() => undefined);
  }

  /** Catches up with the log and fixes the leases, then waits for the log to move (or `pollMs`). */
  async #membershipRound(): Promise<void> {
    const seen = this.#wakeups.mark(this.#keys.log);
    await this.#tick();
    await this.#wakeups.wait(this.#keys.log, seen, Math.max(0, this.#nextPollAt - performance.now()), this.#life.signal);
  }

  /** Catches up with the log when it moved (or `pollMs` passed), then fixes the leases. */
  async #tick(): Promise<void> {
    const now = performance.now();
    const generation = this.#wakeups.mark(this.#keys.log);
    if (this.#logDirty || generation !== this.#logSeen || now >= this.#nextPollAt) {
      this.#logSeen = generation;
      this.#logDirty = false;
      this.#nextPollAt = now + this.settings.pollMs;
      await this.#log.catchUp();
      await this.#compactLog();
    }
    if (!this.#view.members.has(this.#incarnation)) await this.#rejoin();
    await this.#reconcile();
  }

  /**
   * Compacts the membership log once its current epoch holds `compactAfter`
   * records. Only the member with the lowest incarnation does, so the
   * others do not race it for the same commit; if it is gone, the next
   * lowest takes over once it is declared dead.
   */
  async #compactLog(): Promise<void> {
    if (this.#log.length < this.settings.compactAfter || this.#view.sortedMembers()[0] !== this.#incarnation) return;
    if (!(await this.#log.compact())) this.#logDirty = true; // something was appended meanwhile: look again
  }

  async #heartbeat(): Promise<void> {
    const incarnation = this.#incarnation;
    const key = this.#keys.heartbeat(incarnation);
    try {
      await this.#store.cas(key, this.#beats, this.#beats + 1);
      // A rejoin meanwhile started the new incarnation's count at 0: this beat was the old one's.
      if (this.#incarnation === incarnation) this.#beats += 1;
    } catch (error) {
      if (!(error instanceof CasConflictError)) throw error;
      if (this.#incarnation === incarnation) this.#beats = (await this.#store.readValue(key)) ?? 0;
    }
  }

  /** Each member watches the next one (by incarnation, in a ring), so liveness costs one read per member per beat. */
  async #observeSuccessor(): Promise<void> {
    const successor = this.#view.successorOf(this.#incarnation);
    this.#observer.retain(new Set(this.#view.members.keys()));
    if (successor === undefined) return;
    const beats = await this.#store.readValue(this.#keys.heartbeat(successor));
    if (this.#observer.observe(successor, beats) === 'alive') return;
    await this.#log.append({ kind: 'memberLeft', incarnation: successor, reason: 'expired' });
    this.#logDirty = true;
    this.#wakeups.notify(this.#keys.log);
  }

  /** Someone declared this member expired (it was paused or cut off): drop every lease and join again. */
  async #rejoin(): Promise<void> {
    await this.#stopWorkers();
    const dropped = [...this.#held.keys()];
    this.#held.clear();
    if (dropped.length > 0) this.#emit('revoked', dropped);
    await this.#enter();
  }

  async #reconcile(): Promise<void> {
    const target = new Set(this.#view.partitionsOf(this.#incarnation));
    await this.#handOver([...this.#held.keys()].filter((partition) => !target.has(partition)));
    const assigned: number[] = [];
    for (const partition of target) {
      if (!this.#held.has(partition) && (await this.#acquire(partition))) assigned.push(partition);
    }
    if (assigned.length > 0) this.#emit('assigned', assigned);
  }

  /**
   * Takes the lease when it is free or its holder is gone from the group:
   * one commit moves the holder to this member and bumps the epoch. A live
   * holder is left alone: it sees the same log and releases the partition
   * itself (after its in-flight message), which wakes this member.
   */
  async #acquire(partition: number): Promise<boolean> {
    const holderKey = this.#keys.holder(partition);
    const epochKey = this.#keys.epoch(partition);
    const holder = (await this.#store.readValue(holderKey)) ?? 0;
    const mine = this.#incarnation + 1;
    if (holder !== 0 && holder !== mine) {
      const incarnation = holder - 1;
      if (this.#view.members.has(incarnation)) return false;
      if (incarnation >= this.#view.position) {
        this.#logDirty = true; // a member this view has not seen join yet
        return false;
      }
    }
    const epoch = (await this.#store.readValue(epochKey)) ?? 0;
    try {
      await this.#store.commit([
        { op: 'cas', key: holderKey, expected: holder, next: mine },
        { op: 'cas', key: epochKey, expected: epoch, next: epoch + 1 },
      ]);
    } catch (error) {
      if (error instanceof CommitConflictError) return false;
      throw error;
    }
    const lease: Lease = { epoch: epoch + 1 };
    this.#held.set(partition, lease);
    this.#startWorker(partition, lease);
    return true;
  }

  /**
   * Stops the workers of `partitions`, drops them from the assignment
   * (`revoked` then tells listeners, so both agree), and frees their leases.
   */
  async #handOver(partitions: readonly number[]): Promise<void> {
    if (partitions.length > 0) {
      await Promise.all(partitions.map((partition) => this.#stopWorker(partition)));
      for (const partition of partitions) {
        this.#releasing.set(partition, { holder: this.#incarnation + 1, epoch: this.#held.get(partition)!.epoch });
        this.#held.delete(partition);
      }
      this.#emit('revoked', partitions);
    }
    await this.#releasePending();
  }

  /**
   * Frees the leases handed over, each in one commit, then records it in the
   * log, which wakes whoever waits for it. An outage leaves the rest for the
   * next round; a release that conflicts was taken over or had already
   * landed (an ambiguous failure), and is recorded either way: the record
   * only wakes the others, a spare one costs a replay step.
   */
  async #releasePending(): Promise<void> {
    for (const [partition, { holder, epoch }] of this.#releasing) {
      try {
        await this.#store.commit([
          { op: 'cas', key: this.#keys.holder(partition), expected: holder, next: 0 },
          { op: 'cas', key: this.#keys.epoch(partition), expected: epoch, next: epoch + 1 },
        ]);
      } catch (error) {
        if (!(error instanceof CommitConflictError)) throw error;
      }
      await this.#log.append({ kind: 'leaseReleased', incarnation: holder - 1, partition });
      this.#releasing.delete(partition);
    }
  }

  #startWorker(partition: number, lease: Lease): void {
    const run = this.#run;
    if (run === undefined || lease.worker !== undefined || run.signal.aborted) return;
    const abort = new AbortController();
    const signal = AbortSignal.any([abort.signal, run.signal]);
    const done = workPartition({
      channel: this.channel,
      group: this.group,
      partition,
      fence: { op: 'check', key: this.#keys.epoch(partition), equals: lease.epoch },
      handler: run.handler,
      owner: `${this.memberId}#${this.#incarnation}`,
      leaseMs: this.settings.leaseMs,
      clock: this.settings.wallClock,
      wakeups: this.#wakeups,
      batchSize: this.settings.batchSize,
      messagesPerCommit: this.settings.messagesPerCommit,
      pollMs: this.settings.pollMs,
      signal: AbortSignal.any([signal, this.#life.signal]),
      onFailure: (error) => this.#failed(error),
    }).then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof LeaseLostError) return this.#lost(partition, lease, error);
        run.end(error);
      },
    );
    lease.worker = { abort, done };
  }

  async #stopWorker(partition: number): Promise<void> {
    const lease = this.#held.get(partition);
    const worker = lease?.worker;
    if (lease === undefined || worker === undefined) return;
    worker.abort.abort();
    await worker.done;
    lease.worker = undefined;
  }

  async #stopWorkers(): Promise<void> {
    await Promise.all([...this.#held.keys()].map((partition) => this.#stopWorker(partition)));
  }

  /** The lease was taken over while this member was working: drop the partition, tell listeners, look at the log again. */
  #lost(partition: number, lease: Lease, error: LeaseLostError): void {
    if (this.#held.get(partition) === lease) this.#held.delete(partition);
    this.#emit('revoked', [partition]);
    this.#emit('lost', error);
    this.#logDirty = true;
    this.#wakeups.notify(this.#keys.log);
  }

  /** A failed attempt at a message: the listeners hear of it; with none, it is a process warning rather than silence. */
  #failed(error: MessageFailedError): void {
    if (this.#listeners.failed.size === 0) process.emitWarning(error);
    else this.#emit('failed', error);
  }

  #emit<E extends keyof Listeners>(event: E, value: Parameters<Listeners[E]>[0]): void {
    for (const listener of this.#listeners[event]) {
      try {
        (listener as (value: unknown) => void)(value);
      } catch {
        // A listener's failure is its own; the member keeps its leases straight regardless.
      }
    }
  }
}
