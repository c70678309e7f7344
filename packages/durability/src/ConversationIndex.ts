import { InvalidArgumentError, type DurableStore, type WriteOp } from '@liminal/store';
import { codec } from './codec.js';
import { CONVERSATION_PHASES, type ConversationEvent, type ConversationPhase } from './ConversationEvent.js';
import type { ConversationHeader } from './ConversationState.js';
import { parseStoreKeyPart, storeKey, storeKeyPrefix } from './storeKey.js';

/**
 * One conversation as the index shows it, read without replaying its journal.
 * `version`/`createdAt` are absent for a journal older than `conversationCreated`.
 */
export interface ConversationSummary {
  readonly id: string;
  readonly phase: ConversationPhase;
  readonly version: string | undefined;
  readonly createdAt: number | undefined;
  /** Epoch ms of the last journal write. */
  readonly lastActivityAt: number;
  /** `stepCompleted` events in the journal. */
  readonly stepCount: number;
  /** Some received message has not finished (a turn is running, or was cut off by a crash). */
  readonly inFlight: boolean;
  readonly failure: { readonly reason: string; readonly cause?: string } | undefined;
}

export interface ListConversationsOptions {
  /** Only conversations in this phase. */
  readonly phase?: ConversationPhase;
  /** The `next` of the previous page (a conversation id): the page starts after it. */
  readonly after?: string;
  /** Page size, 1..1000 (default 100). */
  readonly limit?: number;
  /** Only conversations whose id starts with this. */
  readonly prefix?: string;
}

export interface ConversationPage {
  readonly conversations: readonly ConversationSummary[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

/*
 * Layout (all names built with storeKey, so ids never collide):
 * - stream  conversation/<id>                 summary records (version, createdAt, phase, failure), one per phase change; the last is current
 * - stream  conversationPhase/<phase>/<id>    one entry while the conversation is in <phase> (what a phase filter lists)
 * - counter conversation/<id>/activity        epoch ms of the last journal write
 * - counter conversation/<id>/steps           stepCompleted events
 * - counter conversation/<id>/inFlight        1 while a received message is unfinished, else 0
 * Every one of them changes in the same `commit` as the journal append it reflects.
 */
const summaryStream = (id: string) => storeKey('conversation', id);
const phaseStream = (phase: ConversationPhase, id: string) => storeKey('conversationPhase', phase, id);
const counter = (id: string, name: 'activity' | 'steps' | 'inFlight') => storeKey('conversation', id, name);

/** Internal: what `DurableConversation` needs to add the index's writes to each journal commit. */
export class ConversationIndexWriter {
  private constructor(
    private readonly id: string,
    private summaries: number,
    private phase: ConversationPhase | undefined,
    private activity: number,
    private steps: number,
    private inFlight: number,
  ) {}

  static async load(store: DurableStore, id: string): Promise<ConversationIndexWriter> {
    const [summaries, activity, steps, inFlight] = await Promise.all([
      store.streamLength(summaryStream(id)),
      store.readValue(counter(id, 'activity')),
      store.readValue(counter(id, 'steps')),
      store.readValue(counter(id, 'inFlight')),
    ]);
    const latest = summaries === 0 ? undefined : await readLatestSummary(store, id, summaries);
    return new ConversationIndexWriter(id, summaries, latest?.phase, activity ?? 0, steps ?? 0, inFlight ?? 0);
  }

  static empty(id: string): ConversationIndexWriter {
    return new ConversationIndexWriter(id, 0, undefined, 0, 0, 0);
  }

  /**
   * The index ops for appending `events` in one commit to a journal whose
   * state after each of them is the matching entry of `after`; `apply` once
   * they committed. The counters and the phase entry move once, to where the
   * last event leaves them; each event that changes the summary adds its own record.
   */
  ops(
    events: readonly ConversationEvent[],
    after: readonly { readonly header: ConversationHeader; readonly hasUnfinished: boolean }[],
    now: number,
  ): { ops: WriteOp[]; apply: () => void } {
    const ops: WriteOp[] = [];
    const last = after.at(-1)!;
    const steps = last.header.stepCount;
    const inFlight = last.hasUnfinished ? 1 : 0;
    const activity = Math.max(now, this.activity);
    if (activity !== this.activity) ops.push({ op: 'cas', key: counter(this.id, 'activity'), expected: this.activity, next: activity });
    if (steps !== this.steps) ops.push({ op: 'cas', key: counter(this.id, 'steps'), expected: this.steps, next: steps });
    if (inFlight !== this.inFlight) ops.push({ op: 'cas', key: counter(this.id, 'inFlight'), expected: this.inFlight, next: inFlight });
    const summaries: Uint8Array[] = [];
    let phase = this.phase;
    events.forEach((event, index) => {
      if (this.summaries + summaries.length > 0 && event.kind !== 'conversationCreated' && event.kind !== 'phaseChanged') return;
      const header = after[index]!.header;
      summaries.push(
        codec.encode({
          kind: 'conversationSummary',
          conversationId: this.id,
          ...(header.version === undefined ? {} : { version: header.version }),
          ...(header.createdAt === undefined ? {} : { createdAt: header.createdAt }),
          phase: header.phase,
          ...(header.failure === undefined ? {} : { failure: header.failure.reason }),
          ...(header.failure?.cause === undefined ? {} : { cause: header.failure.cause }),
        }),
      );
      phase = header.phase;
    });
    if (summaries.length > 0) {
      ops.push({ op: 'append', stream: summaryStream(this.id), payloads: summaries, expectedSeq: this.summaries });
      if (this.phase !== phase) {
        if (this.phase !== undefined) ops.push({ op: 'deleteStream', stream: phaseStream(this.phase, this.id), expectedLength: 1 });
        ops.push({ op: 'append', stream: phaseStream(phase!, this.id), payloads: [new Uint8Array(0)], expectedSeq: 0 });
      }
    }
    return {
      ops,
      apply: () => {
        this.activity = activity;
        this.steps = steps;
        this.inFlight = inFlight;
        this.summaries += summaries.length;
        this.phase = phase;
      },
    };
  }
}

async function readLatestSummary(store: DurableStore, id: string, length: number) {
  const [entry] = await store.readFrom(summaryStream(id), length - 1, 1);
  return entry === undefined ? undefined : codec.decodeAs(entry.payload, 'conversationSummary');
}

/** The index entry of conversation `id`, or `undefined` when it has none. */
export async function readConversationSummary(store: DurableStore, id: string): Promise<ConversationSummary | undefined> {
  const length = await store.streamLength(summaryStream(id));
  if (length === 0) return undefined;
  const [summary, activity, steps, inFlight] = await Promise.all([
    readLatestSummary(store, id, length),
    store.readValue(counter(id, 'activity')),
    store.readValue(counter(id, 'steps')),
    store.readValue(counter(id, 'inFlight')),
  ]);
  if (summary === undefined) return undefined;
  return {
    id,
    phase: summary.phase,
    version: summary.version,
    createdAt: summary.createdAt,
    lastActivityAt: activity ?? 0,
    stepCount: steps ?? 0,
    inFlight: (inFlight ?? 0) === 1,
    failure: summary.failure === undefined ? undefined : { reason: summary.failure, ...(summary.cause === undefined ? {} : { cause: summary.cause }) },
  };
}

/**
 * A page of the conversation index, in conversation id order (code point
 * order), optionally only one phase. Reads a few index entries per
 * conversation, never a journal, so paging through 100,000 conversations
 * costs the same per page as through 100.
 */
export async function listConversations(store: DurableStore, options: ListConversationsOptions = {}): Promise<ConversationPage> {
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new InvalidArgumentError('limit', `expected 1..1000, got ${String(limit)}`);
  if (options.phase !== undefined && !CONVERSATION_PHASES.includes(options.phase)) {
    throw new InvalidArgumentError('phase', `unknown phase ${JSON.stringify(options.phase)}`);
  }
  if (options.prefix !== undefined && typeof options.prefix !== 'string') throw new InvalidArgumentError('prefix', 'expected a string');
  const prefix = options.phase === undefined ? storeKeyPrefix('conversation') : storeKeyPrefix('conversationPhase', options.phase);
  const nameOf = (id: string) => (options.phase === undefined ? summaryStream(id) : phaseStream(options.phase, id));
  // Escaping maps each character on its own, so the escaped id prefix selects exactly the ids with that prefix.
  const idPrefix = options.prefix === undefined || options.prefix === '' ? '' : storeKey(options.prefix);
  const names = await store.listStreams(prefix + idPrefix, { ...(options.after === undefined ? {} : { after: nameOf(options.after) }), limit });
  const ids = names.map((name) => parseStoreKeyPart(name.slice(prefix.length)));
  const summaries = await Promise.all(ids.map((id) => readConversationSummary(store, id)));
  const conversations = summaries.filter((summary): summary is ConversationSummary => summary !== undefined);
  return { conversations, ...(names.length === limit ? { next: ids[ids.length - 1]! } : {}) };
}
