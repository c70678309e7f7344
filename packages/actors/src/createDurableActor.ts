import { InvalidArgumentError, type DurableStore } from '@liminal/store';
import type { AnyStateMachine, EventFromLogic, InputFrom, InspectionEvent, Observer, SnapshotFrom, Subscription } from 'xstate';
import { systemClock, type Clock } from '@liminal/durability';
import { DurableActorRuntime } from './internal/durableActor/DurableActorRuntime.js';
import { isMachineLogic } from './internal/durableActor/xstateInternals.js';

export interface DurableActorOptions<TMachine extends AnyStateMachine> {
  readonly store: DurableStore;
  /** The actor's identity: its journal is the stream `storeKey('actor', id, 'journal')` (`actor/<id>/journal` with `%` and `/` escaped), its snapshots `storeKey('actor', id, 'snapshots')`. */
  readonly id: string;
  /** The machine's input, used (and journaled) only when the actor is created. */
  readonly input?: InputFrom<TMachine>;
  /** This definition's version, recorded at creation (default: none, `null`). */
  readonly version?: string;
  /** Older definitions by version: an actor journaled on one of them keeps running it. */
  readonly versions?: Readonly<Record<string, AnyStateMachine>>;
  /** Timestamps, deadlines and timeouts (default: the system clock). */
  readonly clock?: Clock;
  /** XState's inspection observer (e.g. `@statelyai/inspect`); it sees live activity, not replays. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Journal entries between two snapshots (default 1000): recovery replays fewer than this many. */
  readonly snapshotEvery?: number;
}

/**
 * `active` | `done` | `error` mirror XState's snapshot status (and survive a
 * restore); `stopped` after `stop()`; `fenced` when a newer instance took
 * the actor over; `broken` when a journal write failed.
 */
export type DurableActorStatus = 'active' | 'done' | 'error' | 'stopped' | 'fenced' | 'broken';

/**
 * How an instance was rebuilt: `created` (a new actor), `journal` (replayed
 * from the start) or `snapshot` (restored, then `replayed` entries after it).
 * `rejectedSnapshot` says why the latest snapshot was set aside (damaged, or
 * XState could not restore it): recovery then replayed the journal instead.
 */
export interface DurableActorRecovery {
  readonly source: 'created' | 'journal' | 'snapshot';
  readonly replayed: number;
  readonly rejectedSnapshot?: string;
}

/** Options of one `send`. */
export interface DurableSendOptions {
  /**
   * Applies the event at most once per key across processes and crashes: a
   * second send with a key already journaled is not journaled nor processed
   * and resolves `{ kind: 'duplicate' }`. The key is kept as a dedup receipt
   * (namespace `actor/<id>/events`), written in the same commit as the event.
   */
  readonly idempotencyKey?: string;
}

/** What a `send` did: `journaled` (then processed), or `duplicate` (its idempotency key was journaled before; nothing ran). */
export type DurableSendResult = { readonly kind: 'journaled' } | { readonly kind: 'duplicate' };

/** An actor of the durable actor's system (`system.get(systemId)`); `send` goes through the journal. */
export interface DurableActorRef {
  readonly id: string;
  send(event: { readonly type: string }, options?: DurableSendOptions): Promise<DurableSendResult>;
  getSnapshot(): unknown;
  subscribe(observer: (snapshot: unknown) => void): Subscription;
}

export interface DurableActor<TMachine extends AnyStateMachine> {
  readonly id: string;
  /** The version of the definition this actor runs (recorded at creation). */
  readonly version: string | null;
  readonly status: DurableActorStatus;
  readonly recovery: DurableActorRecovery;
  /** Resolves once the event is journaled (and then processed); rejects with a typed error if it was not. */
  send(event: EventFromLogic<TMachine>, options?: DurableSendOptions): Promise<DurableSendResult>;
  getSnapshot(): SnapshotFrom<TMachine>;
  subscribe(observer: Observer<SnapshotFrom<TMachine>> | ((snapshot: SnapshotFrom<TMachine>) => void)): Subscription;
  /** Events the root machine emits (`emit(...)`), live only: replays emit nothing. */
  on(type: string, handler: (event: { readonly type: string }) => void): Subscription;
  readonly system: { get(systemId: string): DurableActorRef | undefined };
  /** XState's `waitFor` on this actor: the first snapshot (current one included) that satisfies `predicate`. */
  waitFor(predicate: (snapshot: SnapshotFrom<TMachine>) => boolean, options?: { readonly timeoutMs?: number }): Promise<SnapshotFrom<TMachine>>;
  /** Resolves when every event, timer firing and child result produced so far is journaled and processed. */
  flush(): Promise<void>;
  /** Stops this instance (nothing is journaled: reopening the id resumes the actor). */
  stop(): Promise<void>;
}

/**
 * Opens the durable actor `options.id` running `machine`: creates it (and
 * journals its input) the first time, otherwise restores it from its latest
 * snapshot and the journal after it, without running the actions of anything
 * already journaled. See the package README, "Durable actors".
 */
export async function createDurableActor<TMachine extends AnyStateMachine>(
  machine: TMachine,
  options: DurableActorOptions<TMachine>,
): Promise<DurableActor<TMachine>> {
  if (!isMachineLogic(machine)) throw new InvalidArgumentError('machine', 'expected an XState v5 state machine (createMachine / setup().createMachine)');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an options object');
  const { id, version, versions, snapshotEvery = 1000 } = options;
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('id', 'expected a non-empty string');
  if (version !== undefined && typeof version !== 'string') throw new InvalidArgumentError('version', 'expected a string');
  for (const [name, definition] of Object.entries(versions ?? {})) {
    if (!isMachineLogic(definition)) throw new InvalidArgumentError(`versions.${name}`, 'expected an XState v5 state machine');
  }
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new InvalidArgumentError('snapshotEvery', 'expected a positive safe integer');
  return (await DurableActorRuntime.open(machine, {
    store: options.store,
    id,
    input: options.input,
    version: version ?? null,
    versions: versions ?? {},
    clock: options.clock ?? systemClock,
    inspect: options.inspect,
    snapshotEvery,
  })) as unknown as DurableActor<TMachine>;
}
