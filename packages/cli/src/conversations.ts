import { isConversationRecord, readConversationTimeline, type ConversationTimeline, type TimelineSummary } from '@liminal/actors';
import type { DurableStore } from '@liminal/store';
import { NotFoundError } from './errors.js';

/** One line of `liminal conversations`. */
export interface ConversationRow {
  readonly id: string;
  readonly phase: TimelineSummary['phase'];
  /** `recorded`: the journal's own phase; `derived`: a journal without lifecycle events (see `readConversationTimeline`). */
  readonly phaseSource: TimelineSummary['phaseSource'];
  readonly version?: string;
  /** A message is received or started and not finished. */
  readonly inFlight: boolean;
  readonly failure?: string;
  readonly createdAt?: number;
  readonly lastActivityAt?: number;
  readonly ageMs?: number;
  readonly idleMs?: number;
  readonly messages: number;
  readonly steps: number;
  readonly compensations: number;
}

export interface ConversationFilter {
  /** Only conversations in this phase. */
  readonly phase?: string;
  /** Only conversations in flight whose last activity is older than this (ms). */
  readonly stuckMs?: number;
  /** Only failed conversations. */
  readonly failed?: boolean;
  /** Only ids starting with this. */
  readonly prefix?: string;
}

export interface ConversationPage {
  readonly rows: readonly ConversationRow[];
  /** Pass as `--after` for the next page; absent on the last page. */
  readonly next?: string;
  /** Journals looked at for this page. */
  readonly scanned: number;
}

const LIST_PAGE = 500;

/**
 * A page of durable conversations matching `filter`, in id order after
 * `after`. Conversations are found by listing stream names and keeping those
 * whose first record is a conversation event; each is summarised from its
 * journal (see `readConversationTimeline`).
 */
export async function listConversations(
  store: DurableStore,
  filter: ConversationFilter,
  page: { readonly limit: number; readonly after?: string },
  nowMs: number,
): Promise<ConversationPage> {
  const rows: ConversationRow[] = [];
  const prefix = filter.prefix ?? '';
  let after = page.after;
  let scanned = 0;
  for (;;) {
    const names = await store.listStreams(prefix, after === undefined ? { limit: LIST_PAGE } : { after, limit: LIST_PAGE });
    for (const id of names) {
      after = id;
      if (id.endsWith(':snapshot')) continue;
      const [first] = await store.readFrom(id, 0, 1);
      if (first === undefined || !isConversationRecord(first.payload)) continue;
      const timeline = await readConversationTimeline(store, id);
      scanned += 1;
      if (timeline === undefined) continue;
      const row = conversationRow(timeline, nowMs);
      if (matches(row, filter, nowMs)) rows.push(row);
      if (rows.length === page.limit) return { rows, next: id, scanned };
    }
    if (names.length < LIST_PAGE) return { rows, scanned };
  }
}

/** `liminal show <id>`: the summary line and every journal record. */
export interface ConversationDetail extends ConversationRow {
  readonly journalLength: number;
  readonly pendingTimers: TimelineSummary['pendingTimers'];
  readonly timeline: ConversationTimeline['entries'];
}

export async function showConversation(store: DurableStore, id: string, nowMs: number): Promise<ConversationDetail> {
  const timeline = await readConversationTimeline(store, id);
  if (timeline === undefined) throw new NotFoundError('conversation', id);
  return { ...conversationRow(timeline, nowMs), journalLength: timeline.length, pendingTimers: timeline.summary.pendingTimers, timeline: timeline.entries };
}

function conversationRow({ id, summary }: ConversationTimeline, nowMs: number): ConversationRow {
  return {
    id,
    phase: summary.phase,
    phaseSource: summary.phaseSource,
    ...(summary.version === undefined ? {} : { version: summary.version }),
    inFlight: summary.inFlight,
    ...(summary.failure === undefined ? {} : { failure: summary.failure }),
    ...(summary.createdAt === undefined ? {} : { createdAt: summary.createdAt, ageMs: Math.max(0, nowMs - summary.createdAt) }),
    ...(summary.lastActivityAt === undefined ? {} : { lastActivityAt: summary.lastActivityAt, idleMs: Math.max(0, nowMs - summary.lastActivityAt) }),
    messages: summary.messages,
    steps: summary.steps,
    compensations: summary.compensations,
  };
}

function matches(row: ConversationRow, filter: ConversationFilter, nowMs: number): boolean {
  if (filter.phase !== undefined && row.phase !== filter.phase) return false;
  if (filter.failed === true && row.phase !== 'failed') return false;
  if (filter.stuckMs !== undefined) {
    if (!row.inFlight || row.lastActivityAt === undefined) return false;
    if (nowMs - row.lastActivityAt <= filter.stuckMs) return false;
  }
  return true;
}
