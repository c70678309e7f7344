import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  CommitConflictError,
  ConfigError,
  DecodeError,
  InvalidArgumentError,
  readBatches,
  type DurableStore,
} from '@liminal/store';
import { codec } from './codec.js';
import { ConversationIndexWriter } from './ConversationIndex.js';
import { CONVERSATION_EVENT_KINDS, type ConversationEvent, type LifecycleEvent } from './ConversationEvent.js';
import { adoptProgress, applySnapshotDelta, assertEvent, assertLifecycleEvent, ConversationState, previewsAfter, type RedeliveryDecision } from './ConversationState.js';
import type { ConversationSnapshot } from './codec.js';
import { assertNotStoreKeyOfTag, storeKey } from './storeKey.js';

/**
 * Replay reads at most this many entries per `readFrom`: big enough that a
 * long log needs few round trips to SQLite/PostgreSQL, small enough that one
 * batch of decoded events never holds a whole 100k-event log in memory twice.
 */
export const REPLAY_BATCH_SIZE = 1024;

/** How often a conversation stores a snapshot of its state. */
export type SnapshotPolicy =
  /**
   * After `events` events have been appended since the last snapshot, or,
   * when an append leaves no message unfinished (the conversation is idle),
   * after `idleEvents` (default 64, or `events` if that is smaller).
   */
  | { readonly kind: 'everyEvents'; readonly events: number; readonly idleEvents?: number }
  | { readonly kind: 'never' };

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { kind: 'everyEvents', events: 1024 };

/** See `SnapshotPolicy`: small enough that a recovery after idling replays little, large enough that a chatty idle conversation does not snapshot per event. */
const DEFAULT_IDLE_EVENTS = 64;

/** A validated policy: `idleEvents` resolved. */
type ResolvedSnapshotPolicy = { readonly kind: 'everyEvents'; readonly events: number; readonly idleEvents: number } | { readonly kind: 'never' };

export interface DurableConversationOptions {
  /** Default: a snapshot every 1024 events. */
  readonly snapshots?: SnapshotPolicy;
  /**
   * Keep the conversation index (`listConversations`) up to date: each
   * journal append then goes through one `commit` with the index's writes.
   * Default false here; `openConversation` (@liminal/actors) turns it on.
   */
  readonly index?: boolean;
  /** Epoch ms for the index's last-activity time (default `Date.now`). */
  readonly now?: () => number;
}

/** Where `recover` started from. */
export type RecoverySource =
  | { readonly kind: 'empty' }
  /** Full replay from sequence 0 (no usable snapshot). */
  | { readonly kind: 'replay' }
  /**
   * The snapshot chain, covering the first `coversSeq` events, then only the
   * events after it. `rejected` snapshots at the chain's end failed their
   * checksum or did not continue the chain; the events they covered were replayed.
   */
  | { readonly kind: 'snapshot'; readonly coversSeq: number; readonly rejected: number };

/** Process-wide counters of how conversations were recovered. */
export interface RecoveryMetrics {
  /** Recoveries that started from a snapshot chain. */
  readonly fromSnapshot: number;
  /** Recoveries that replayed the whole log (no snapshot, or none usable). */
  readonly fullReplays: number;
  /** Snapshots that did not verify (checksum, format, chain) and were not used. */
  readonly snapshotsRejected: number;
}

const metrics = { fromSnapshot: 0, fullReplays: 0, snapshotsRejected: 0 };

/** A copy of the recovery counters (for a metrics endpoint or a test). */
export function recoveryMetrics(): RecoveryMetrics {
  return { ...metrics };
}

/** The stream holding a conversation's latest snapshot. */
export function snapshotStreamFor(conversationId: string): string {
  return storeKey('snapshot', conversationId);
}

/**
 * An event-sourced conversation over one store stream (named by the
 * conversation id). Every `record*` appends with the sequence this instance
 * expects; if another writer appended first the store's
 * `SequenceConflictError` is surfaced unchanged and nothing is retried: the
 * second writer is fenced, and must `recover` to continue.
 *
 * Snapshots live in `snapshotStreamFor(id)` (`snapshot/<escaped id>`) as a chain of incremental snapshots: each holds the header and
 * only the messages changed since the previous one, so the bytes written grow
 * with the events, not with their square. They are derived data: writing one
 * is best effort, and a missing, foreign or corrupt snapshot (each carries a
 * CRC-32) only means `recover` replays the events it would have covered;
 * the next snapshot then starts a fresh chain.
 */
export class DurableConversation {
  readonly #store: DurableStore;
  readonly #state: ConversationState;
  readonly #snapshots: ResolvedSnapshotPolicy;
  #expectedSeq: number;
  /** Where the chain ends: the first event no snapshot covers, and how many snapshots the stream holds. */
  #chain: SnapshotChain;

  private constructor(
    store: DurableStore,
    readonly id: string,
    state: ConversationState,
    expectedSeq: number,
    chain: SnapshotChain,
    snapshots: ResolvedSnapshotPolicy,
    readonly recoveredFrom: RecoverySource,
    index: ConversationIndexWriter | undefined,
    options: DurableConversationOptions,
  ) {
    this.#store = store;
    this.#state = state;
    this.#expectedSeq = expectedSeq;
    this.#chain = chain;
    this.#snapshots = snapshots;
    this.#index = index;
    this.#now = options.now ?? (() => Date.now());
  }

  readonly #index: ConversationIndexWriter | undefined;
  readonly #now: () => number;

  /**
   * A new conversation expecting an empty stream. If the stream already has
   * events, the first `record*` fails with `SequenceConflictError`; use `recover`.
   */
  static create(store: DurableStore, id: string, options: DurableConversationOptions = {}): DurableConversation {
    assertConversationId(id);
    const snapshots = snapshotPolicy(options);
    const index = options.index === true ? ConversationIndexWriter.empty(id) : undefined;
    return new DurableConversation(store, id, new ConversationState(), 0, NO_CHAIN, snapshots, { kind: 'empty' }, index, options);
  }

  /**
   * Rebuilds the conversation from the store: from its snapshot chain plus
   * the events after it, or by replaying every event from 0. A corrupt
   * event is a `DecodeError` (the log is the source of truth); a snapshot
   * that does not verify is not used (counted in `recoveryMetrics()`).
   */
  static async recover(store: DurableStore, id: string, options: DurableConversationOptions = {}): Promise<DurableConversation> {
    assertConversationId(id);
    const snapshots = snapshotPolicy(options);
    const { state, chain, rejected } = await readSnapshotChain(store, id);
    const expectedSeq = await replayInto(state, store, id, chain.coversSeq);
    metrics.snapshotsRejected += rejected;
    let source: RecoverySource;
    if (chain.coversSeq > 0) {
      metrics.fromSnapshot += 1;
      source = { kind: 'snapshot', coversSeq: chain.coversSeq, rejected };
    } else {
      if (expectedSeq > 0) metrics.fullReplays += 1;
      source = expectedSeq === 0 ? { kind: 'empty' } : { kind: 'replay' };
    }
    const index = options.index === true ? await ConversationIndexWriter.load(store, id) : undefined;
    return new DurableConversation(store, id, state, expectedSeq, chain, snapshots, source, index, options);
  }

  /** The replayed state. Read it; do not `apply` to it (that would desynchronise it from the log). */
  get state(): ConversationState {
    return this.#state;
  }

  /** The sequence the next append must get: the number of events in the log. */
  get expectedSeq(): number {
    return this.#expectedSeq;
  }

  /**
   * Handles a delivery: `skip` for a finished message, `resumeFrom(next step)`
   * for one seen before, and `start` for a new one, appending `messageReceived`
   * only in that last case. `payload` (the message itself) is kept with the
   * receipt until the message finishes (`state.unfinishedMessages()`).
   */
  async receiveMessage(messageId: string, receivedAt: number, payload?: Uint8Array): Promise<RedeliveryDecision> {
    assertMessageId(messageId);
    assertNonNegativeSafeInteger('receivedAt', receivedAt);
    if (payload !== undefined) assertPayload('payload', payload);
    const decision = this.#state.redeliveryDecision(messageId);
    if (decision.kind === 'start') await this.#append({ kind: 'messageReceived', messageId, receivedAt, ...(payload === undefined ? {} : { payload }) });
    return decision;
  }

  /** Appends `messageReceived` unconditionally (`receiveMessage` is the deduplicating entry point). */
  async recordMessageReceived(messageId: string, receivedAt: number, payload?: Uint8Array): Promise<number> {
    assertMessageId(messageId);
    assertNonNegativeSafeInteger('receivedAt', receivedAt);
    if (payload !== undefined) assertPayload('payload', payload);
    return this.#append({ kind: 'messageReceived', messageId, receivedAt, ...(payload === undefined ? {} : { payload }) });
  }

  /** Appends `processingStarted`; resolves to the event's sequence. */
  async recordProcessingStarted(messageId: string): Promise<number> {
    assertMessageId(messageId);
    return this.#append({ kind: 'processingStarted', messageId });
  }

  async recordStepCompleted(messageId: string, stepIndex: number, output: Uint8Array): Promise<number> {
    assertMessageId(messageId);
    assertNonNegativeSafeInteger('stepIndex', stepIndex);
    assertPayload('output', output);
    return this.#append({ kind: 'stepCompleted', messageId, stepIndex, output });
  }

  async recordProcessingFinished(messageId: string): Promise<number> {
    assertMessageId(messageId);
    return this.#append({ kind: 'processingFinished', messageId });
  }

  async recordError(messageId: string, error: string): Promise<number> {
    assertMessageId(messageId);
    if (typeof error !== 'string') throw new InvalidArgumentError('error', 'expected a string');
    return this.#append({ kind: 'errorOccurred', messageId, error });
  }

  /** Appends a conversation-wide event (creation, phase, participant exit, log entry). */
  async recordLifecycle(event: LifecycleEvent): Promise<number> {
    assertLifecycleEvent(event);
    return this.#append(event);
  }

  /**
   * Appends `events`, in order, in one store commit: all of them or none.
   * Resolves to the first one's sequence. Events that follow each other with
   * nothing done in between (a receipt and the start of processing, a
   * message's last step and its end) then cost one round trip instead of one each.
   */
  async recordEvents(events: readonly ConversationEvent[]): Promise<number> {
    if (!Array.isArray(events) || events.length === 0) throw new InvalidArgumentError('events', 'expected a non-empty array of conversation events');
    for (const event of events as readonly ConversationEvent[]) assertEvent(event);
    return this.#appendAll(events);
  }

  #append(event: ConversationEvent): Promise<number> {
    return this.#appendAll([event]);
  }

  async #appendAll(events: readonly ConversationEvent[]): Promise<number> {
    const payloads = events.map((event) => codec.encode(event));
    const sequence =
      this.#index !== undefined
        ? await this.#commitWithIndex(events, payloads)
        : payloads.length === 1
          ? await this.#store.append(this.id, payloads[0]!, this.#expectedSeq)
          : await this.#store.appendMany(this.id, payloads, this.#expectedSeq);
    this.#expectedSeq = sequence + events.length;
    for (const event of events) this.#state.apply(event);
    await this.#maybeSnapshot();
    return sequence;
  }

  /** The journal append and the index's writes as one commit; a journal conflict surfaces as the store's SequenceConflictError. */
  async #commitWithIndex(events: readonly ConversationEvent[], payloads: readonly Uint8Array[]): Promise<number> {
    const { ops, apply } = this.#index!.ops(events, previewsAfter(this.#state, events), this.#now());
    try {
      const result = await this.#store.commit([{ op: 'append', stream: this.id, payloads, expectedSeq: this.#expectedSeq }, ...ops]);
      apply();
      return result.firstSeqs[0]!;
    } catch (error) {
      if (error instanceof CommitConflictError && error.index === 0) throw error.cause;
      throw error;
    }
  }

  async #maybeSnapshot(): Promise<void> {
    const policy = this.#snapshots;
    const chain = this.#chain;
    if (policy.kind === 'never') return;
    // An idle conversation is where processes are usually stopped and restarted: a snapshot there, once a
    // few events have piled up, lets the next recovery replay (almost) nothing instead of up to `events`.
    const since = this.#expectedSeq - chain.coversSeq;
    if (since < (this.#state.hasUnfinished ? policy.events : policy.idleEvents)) return;
    const coversSeq = this.#expectedSeq;
    const stream = snapshotStreamFor(this.id);
    // A broken chain (none yet, or one that did not verify) restarts with a snapshot of every message, and so
    // does a chain that costs recovery twice what a full snapshot would now (estimated from its first one, per
    // message), counting each snapshot's fixed decoding cost as CHAIN_ENTRY_COST bytes: recovery then reads
    // at most about two full snapshots' worth. A chain of a few deltas that hold new messages stays about one
    // full snapshot; one whose deltas repeat the same message (a long message snapshotted while it runs) or
    // that holds many small snapshots (an idle conversation's) restarts. Each restart waits for the chain to
    // grow by a constant factor, so the bytes written stay linear in the conversation.
    const fullEstimate = (chain.baseBytes * Math.max(1, this.#state.messageCount)) / Math.max(1, chain.baseMessages) + CHAIN_ENTRY_COST;
    const restart = chain.broken || chain.bytes + chain.entries * CHAIN_ENTRY_COST >= CHAIN_RESTART_FACTOR * fullEstimate;
    const fromSeq = restart ? 0 : chain.coversSeq;
    const messages = restart ? (this.#state.takeChanged(), [...this.#state.messages()]) : this.#state.takeChanged();
    const header = this.#state.header;
    // Only the log entries since the previous snapshot: recovery appends them to the ones before.
    const newEntries = restart ? header.recentLog.length : Math.min(header.recentLog.length, header.loggedCount - chain.loggedCount);
    const written = { ...header, recentLog: header.recentLog.slice(header.recentLog.length - newEntries) };
    const bytes = codec.encode({ kind: 'conversationSnapshot', conversationId: this.id, fromSeq, coversSeq, header: written, messages });
    try {
      if (restart && chain.entries > 0) {
        await this.#store.commit([
          { op: 'deleteStream', stream, expectedLength: chain.entries },
          { op: 'append', stream, payloads: [bytes], expectedSeq: 0 },
        ]);
      } else {
        await this.#store.append(stream, bytes, restart ? 0 : chain.entries);
      }
      this.#chain = {
        coversSeq,
        entries: (restart ? 0 : chain.entries) + 1,
        broken: false,
        loggedCount: header.loggedCount,
        bytes: (restart ? 0 : chain.bytes) + bytes.length,
        baseBytes: restart ? bytes.length : chain.baseBytes,
        baseMessages: restart ? messages.length : chain.baseMessages,
      };
    } catch {
      // The event is already durable and the caller must not see its append
      // as failed (retrying it would double-record). The messages taken for
      // this snapshot are lost to the chain, so the next one restarts it;
      // until then recovery replays more events.
      const entries = await this.#store.streamLength(stream).catch(() => chain.entries + 1);
      this.#chain = { ...chain, entries, broken: true };
    }
  }
}

interface SnapshotChain {
  /** The first event the chain does not cover. */
  readonly coversSeq: number;
  /** Snapshots in the stream (valid or not), where the next append goes when `broken` is false. */
  readonly entries: number;
  /** The next snapshot must restart the chain (nothing usable, or something unusable at its end). */
  readonly broken: boolean;
  /** `header.loggedCount` after `coversSeq` events: the next snapshot carries the log entries after it. */
  readonly loggedCount: number;
  /** Bytes of the chain's snapshots; bytes and messages of its first one (a snapshot of every message). */
  readonly bytes: number;
  readonly baseBytes: number;
  readonly baseMessages: number;
}

const NO_CHAIN: SnapshotChain = { coversSeq: 0, entries: 0, broken: true, loggedCount: 0, bytes: 0, baseBytes: 0, baseMessages: 0 };

/** A chain restarts once reading it costs this many times reading a full snapshot (estimated). */
const CHAIN_RESTART_FACTOR = 2;
/** What decoding one snapshot costs besides its bytes, in bytes of decoding (measured: ~8 µs a snapshot, ~15 ns a byte). */
const CHAIN_ENTRY_COST = 512;

/**
 * Reads the snapshot chain: each snapshot must verify and start where the
 * previous one ended (the first at 0), and none may reach past the log (a
 * log deleted and restarted is another history). The chain is used up to
 * the first snapshot that fails; that one and every later one are rejected.
 */
async function readSnapshotChain(store: DurableStore, id: string): Promise<{ state: ConversationState; chain: SnapshotChain; rejected: number }> {
  const stream = snapshotStreamFor(id);
  const logLength = await store.streamLength(id);
  let state: ConversationState | undefined;
  let coversSeq = 0;
  let used = 0;
  let entries = 0;
  let bytes = 0;
  let baseBytes = 0;
  let baseMessages = 0;
  for await (const batch of readBatches(store, stream, 0, SNAPSHOT_BATCH_SIZE)) {
    for (const entry of batch) {
      entries = entry.sequence + 1;
      if (used !== entry.sequence) continue; // past a rejected snapshot: counted, not used
      const snapshot = decodeSnapshot(entry.payload);
      if (snapshot === undefined || snapshot.conversationId !== id || snapshot.fromSeq !== coversSeq || snapshot.coversSeq > logLength) continue;
      if (state === undefined) state = adoptProgress(snapshot.messages, snapshot.header);
      else applySnapshotDelta(state, snapshot.messages, snapshot.header);
      coversSeq = snapshot.coversSeq;
      if (used === 0) [baseBytes, baseMessages] = [entry.payload.length, snapshot.messages.length];
      bytes += entry.payload.length;
      used += 1;
    }
  }
  const rejected = entries - used;
  const loggedCount = state?.header.loggedCount ?? 0;
  return { state: state ?? new ConversationState(), chain: { coversSeq, entries, broken: used === 0 || rejected > 0, loggedCount, bytes, baseBytes, baseMessages }, rejected };
}

/** Snapshots per read of the chain: each may be large, so fewer than events per batch. */
const SNAPSHOT_BATCH_SIZE = 64;

function decodeSnapshot(bytes: Uint8Array): ConversationSnapshot | undefined {
  try {
    return codec.decodeAs(bytes, 'conversationSnapshot');
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
}

/** Applies events `from..end` to `state`; returns the log length. */
async function replayInto(state: ConversationState, store: DurableStore, id: string, from: number): Promise<number> {
  let next = from;
  for await (const batch of readBatches(store, id, from, REPLAY_BATCH_SIZE)) {
    for (const entry of batch) {
      state.apply(codec.decodeAs(entry.payload, ...CONVERSATION_EVENT_KINDS));
      next = entry.sequence + 1;
    }
  }
  return next;
}

function snapshotPolicy(options: DurableConversationOptions): ResolvedSnapshotPolicy {
  if (typeof options !== 'object' || options === null) throw new ConfigError('conversation options must be an object');
  const policy = options.snapshots ?? DEFAULT_SNAPSHOT_POLICY;
  if (policy.kind === 'never') return policy;
  if (policy.kind !== 'everyEvents' || !Number.isSafeInteger(policy.events) || policy.events < 1) {
    throw new ConfigError(`snapshot policy must be {kind:'never'} or {kind:'everyEvents', events >= 1, idleEvents?: >= 1}`);
  }
  const idleEvents = policy.idleEvents ?? DEFAULT_IDLE_EVENTS;
  if (!Number.isSafeInteger(idleEvents) || idleEvents < 1) {
    throw new ConfigError(`snapshot policy idleEvents must be a safe integer >= 1, got ${String(policy.idleEvents)}`);
  }
  // Idle never waits longer than busy.
  return { kind: 'everyEvents', events: policy.events, idleEvents: Math.min(policy.events, idleEvents) };
}

function assertConversationId(id: string): void {
  assertName('conversation id', id);
  // The id is used as a stream name as is, so it must not look like one of the names this package builds.
  assertNotStoreKeyOfTag('conversation id', id);
}

function assertMessageId(messageId: string): void {
  if (typeof messageId !== 'string') throw new InvalidArgumentError('messageId', 'expected a string');
}
