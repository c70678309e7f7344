import {
  assertName,
  assertNonNegativeSafeInteger,
  assertPayload,
  ConfigError,
  DecodeError,
  InvalidArgumentError,
  readBatches,
  type DurableStore,
} from '@liminal/store';
import { codec } from './codec.js';
import type { ConversationEvent } from './ConversationEvent.js';
import { adoptProgress, ConversationState, type RedeliveryDecision } from './ConversationState.js';

/**
 * Replay reads at most this many entries per `readFrom`: big enough that a
 * long log needs few round trips to SQLite/PostgreSQL, small enough that one
 * batch of decoded events never holds a whole 100k-event log in memory twice.
 */
export const REPLAY_BATCH_SIZE = 1024;

/** How often a conversation stores a snapshot of its state. */
export type SnapshotPolicy =
  /** After `events` events have been appended since the last snapshot. */
  | { readonly kind: 'everyEvents'; readonly events: number }
  | { readonly kind: 'never' };

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { kind: 'everyEvents', events: 1024 };

export interface DurableConversationOptions {
  /** Default: a snapshot every 1024 events. */
  readonly snapshots?: SnapshotPolicy;
}

/** Where `recover` started from. */
export type RecoverySource =
  | { readonly kind: 'empty' }
  /** Full replay from sequence 0 (no usable snapshot). */
  | { readonly kind: 'replay' }
  /** The latest snapshot, covering the first `coversSeq` events, then only the events after it. */
  | { readonly kind: 'snapshot'; readonly coversSeq: number };

const SNAPSHOT_SUFFIX = ':snapshot';

/** The stream holding a conversation's latest snapshot. */
export function snapshotStreamFor(conversationId: string): string {
  return `${conversationId}${SNAPSHOT_SUFFIX}`;
}

/**
 * An event-sourced conversation over one store stream (named by the
 * conversation id). Every `record*` appends with the sequence this instance
 * expects; if another writer appended first the store's
 * `SequenceConflictError` is surfaced unchanged and nothing is retried: the
 * second writer is fenced, and must `recover` to continue.
 *
 * Snapshots live in `<id>:snapshot` (so a conversation id must not end with
 * `:snapshot`). They are derived data: writing one is best effort, and a
 * missing, foreign or corrupt snapshot only means `recover` replays from 0.
 */
export class DurableConversation {
  readonly #store: DurableStore;
  readonly #state: ConversationState;
  readonly #snapshots: SnapshotPolicy;
  #expectedSeq: number;
  #snapshotSeq: number;

  private constructor(
    store: DurableStore,
    readonly id: string,
    state: ConversationState,
    expectedSeq: number,
    snapshotSeq: number,
    snapshots: SnapshotPolicy,
    readonly recoveredFrom: RecoverySource,
  ) {
    this.#store = store;
    this.#state = state;
    this.#expectedSeq = expectedSeq;
    this.#snapshotSeq = snapshotSeq;
    this.#snapshots = snapshots;
  }

  /**
   * A new conversation expecting an empty stream. If the stream already has
   * events, the first `record*` fails with `SequenceConflictError`; use `recover`.
   */
  static create(store: DurableStore, id: string, options: DurableConversationOptions = {}): DurableConversation {
    assertConversationId(id);
    const snapshots = snapshotPolicy(options);
    return new DurableConversation(store, id, new ConversationState(), 0, 0, snapshots, { kind: 'empty' });
  }

  /**
   * Rebuilds the conversation from the store: from the latest valid snapshot
   * plus the events after it, or by replaying every event from 0. A corrupt
   * event is a `DecodeError` (the log is the source of truth); a corrupt
   * snapshot is ignored.
   */
  static async recover(store: DurableStore, id: string, options: DurableConversationOptions = {}): Promise<DurableConversation> {
    assertConversationId(id);
    const snapshots = snapshotPolicy(options);
    const snapshot = await readLatestSnapshot(store, id);
    const state = snapshot === undefined ? new ConversationState() : adoptProgress(snapshot.messages);
    const from = snapshot?.coversSeq ?? 0;
    const expectedSeq = await replayInto(state, store, id, from);
    const source: RecoverySource =
      snapshot !== undefined ? { kind: 'snapshot', coversSeq: from } : expectedSeq === 0 ? { kind: 'empty' } : { kind: 'replay' };
    return new DurableConversation(store, id, state, expectedSeq, from, snapshots, source);
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
   * only in that last case.
   */
  async receiveMessage(messageId: string, receivedAt: number): Promise<RedeliveryDecision> {
    assertMessageId(messageId);
    assertNonNegativeSafeInteger('receivedAt', receivedAt);
    const decision = this.#state.redeliveryDecision(messageId);
    if (decision.kind === 'start') await this.#append({ kind: 'messageReceived', messageId, receivedAt });
    return decision;
  }

  /** Appends `messageReceived` unconditionally (`receiveMessage` is the deduplicating entry point). */
  async recordMessageReceived(messageId: string, receivedAt: number): Promise<number> {
    assertMessageId(messageId);
    assertNonNegativeSafeInteger('receivedAt', receivedAt);
    return this.#append({ kind: 'messageReceived', messageId, receivedAt });
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

  async #append(event: ConversationEvent): Promise<number> {
    const payload = codec.encode(event);
    const sequence = await this.#store.append(this.id, payload, this.#expectedSeq);
    this.#expectedSeq = sequence + 1;
    this.#state.apply(event);
    await this.#maybeSnapshot();
    return sequence;
  }

  async #maybeSnapshot(): Promise<void> {
    const policy = this.#snapshots;
    if (policy.kind === 'never' || this.#expectedSeq - this.#snapshotSeq < policy.events) return;
    const coversSeq = this.#expectedSeq;
    const bytes = codec.encode({
      kind: 'conversationSnapshot',
      conversationId: this.id,
      coversSeq,
      messages: [...this.#state.messages()],
    });
    const stream = snapshotStreamFor(this.id);
    try {
      // Only the latest snapshot is ever read, so older ones are dropped rather
      // than kept growing. Between the delete and the append there is no
      // snapshot, which only costs a full replay.
      await this.#store.deleteStream(stream);
      await this.#store.append(stream, bytes, 0);
      this.#snapshotSeq = coversSeq;
    } catch {
      // The event is already durable and the caller must not see its append
      // as failed (retrying it would double-record). A failed snapshot is
      // retried after the next append; until then recovery replays more events.
    }
  }
}

async function readLatestSnapshot(store: DurableStore, id: string) {
  const stream = snapshotStreamFor(id);
  const length = await store.streamLength(stream);
  if (length === 0) return undefined;
  const [entry] = await store.readFrom(stream, length - 1, 1);
  if (entry === undefined) return undefined;
  let snapshot;
  try {
    snapshot = codec.decodeAs(entry.payload, 'conversationSnapshot');
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
  if (snapshot.conversationId !== id) return undefined;
  // A snapshot ahead of the log (the log was deleted and restarted) describes another history.
  if ((await store.streamLength(id)) < snapshot.coversSeq) return undefined;
  return snapshot;
}

/** Applies events `from..end` to `state`; returns the log length. */
async function replayInto(state: ConversationState, store: DurableStore, id: string, from: number): Promise<number> {
  let next = from;
  for await (const batch of readBatches(store, id, from, REPLAY_BATCH_SIZE)) {
    for (const entry of batch) {
      state.apply(codec.decodeAs(entry.payload, 'messageReceived', 'processingStarted', 'stepCompleted', 'processingFinished', 'errorOccurred'));
      next = entry.sequence + 1;
    }
  }
  return next;
}

function snapshotPolicy(options: DurableConversationOptions): SnapshotPolicy {
  if (typeof options !== 'object' || options === null) throw new ConfigError('conversation options must be an object');
  const policy = options.snapshots ?? DEFAULT_SNAPSHOT_POLICY;
  if (policy.kind === 'never') return policy;
  if (policy.kind !== 'everyEvents' || !Number.isSafeInteger(policy.events) || policy.events < 1) {
    throw new ConfigError(`snapshot policy must be {kind:'never'} or {kind:'everyEvents', events >= 1}`);
  }
  return policy;
}

function assertConversationId(id: string): void {
  assertName('conversation id', id);
  if (id.endsWith(SNAPSHOT_SUFFIX)) {
    throw new InvalidArgumentError('conversation id', `must not end with ${JSON.stringify(SNAPSHOT_SUFFIX)} (reserved for snapshots)`);
  }
}

function assertMessageId(messageId: string): void {
  if (typeof messageId !== 'string') throw new InvalidArgumentError('messageId', 'expected a string');
}
