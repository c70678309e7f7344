import { readConversationTimeline, type ConversationTimeline, type TimelineSummary } from '@liminal/actors';
import { CONVERSATION_PHASES, listConversations as listIndexed, type ConversationPhase, type ConversationSummary } from '@liminal/durability';
import type { DurableStore } from '@liminal/store';
import { NotFoundError, UsageError } from './errors.js';

/** One line of `liminal conversations`, read from the conversation index (never from a journal). */
export interface ConversationRow {
  readonly id: string;
  readonly phase: ConversationPhase;
  readonly version?: string;
  /** A received message has not finished. */
  readonly inFlight: boolean;
  readonly failure?: string;
  readonly createdAt?: number;
  readonly lastActivityAt: number;
  readonly ageMs?: number;
  readonly idleMs: number;
  readonly steps: number;
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
  /** Index entries looked at for this page. */
  readonly scanned: number;
}

/** Index entries read per round when a filter (`--stuck`) drops some. */
const SCAN_PAGE = 1000;
/** Where a conversation can be in flight: `--stuck` without `--phase` scans only these phases' index entries. */
const LIVE_PHASES: readonly ConversationPhase[] = ['created', 'active', 'completing'];

/**
 * A page of durable conversations matching `filter`, in id order after
 * `after`, from the conversation index that `openConversation` keeps in the
 * same commit as each journal write (`listConversations` of
 * @liminal/durability): a few index reads per conversation listed, so a page
 * costs the same in a store of 100 or 100,000 conversations. `--phase` /
 * `--failed` list one phase's entries; `--stuck` keeps in-flight ones idle
 * longer than asked, scanning only phases a conversation can be in flight in.
 * Conversations written without the index (by `DurableSteps` alone) are not
 * listed; `show` reads any journal.
 */
export async function listConversations(
  store: DurableStore,
  filter: ConversationFilter,
  page: { readonly limit: number; readonly after?: string },
  nowMs: number,
): Promise<ConversationPage> {
  const phases = phasesOf(filter);
  const rows: ConversationRow[] = [];
  let cursor = page.after;
  let scanned = 0;
  for (;;) {
    // Without a filter a page needs exactly what is missing; a filter may drop entries, so read larger rounds.
    const limit = filter.stuckMs === undefined ? page.limit - rows.length : SCAN_PAGE;
    const round = await mergedRound(store, phases, { ...(cursor === undefined ? {} : { after: cursor }), limit, ...(filter.prefix === undefined ? {} : { prefix: filter.prefix }) });
    for (const summary of round.conversations) {
      scanned += 1;
      const row = conversationRow(summary, nowMs);
      if (matches(row, filter)) rows.push(row);
      if (rows.length === page.limit) return { rows, next: summary.id, scanned };
    }
    if (round.next === undefined) return { rows, scanned };
    cursor = round.next;
  }
}

/** The phases to list: one (`--phase`, `--failed`), every one (`undefined`), or the live ones for `--stuck`. */
function phasesOf(filter: ConversationFilter): readonly (ConversationPhase | undefined)[] {
  if (filter.phase !== undefined && !(CONVERSATION_PHASES as readonly string[]).includes(filter.phase)) {
    throw new UsageError(`unknown phase ${JSON.stringify(filter.phase)}: expected one of ${CONVERSATION_PHASES.join(', ')}`);
  }
  const phase = filter.phase as ConversationPhase | undefined;
  if (filter.failed === true && phase !== undefined && phase !== 'failed') throw new UsageError(`--failed lists phase failed; it cannot be combined with --phase ${phase}`);
  if (filter.failed === true) return ['failed'];
  if (phase !== undefined) return [phase];
  return filter.stuckMs === undefined ? [undefined] : LIVE_PHASES;
}

/**
 * One round over several phases' index entries, merged in id order. Each
 * phase lists in id order, so everything up to the smallest last id of a
 * full phase page is complete; the round ends there and continues after it.
 */
async function mergedRound(
  store: DurableStore,
  phases: readonly (ConversationPhase | undefined)[],
  options: { readonly after?: string; readonly limit: number; readonly prefix?: string },
): Promise<{ conversations: readonly ConversationSummary[]; next?: string }> {
  const pages = await Promise.all(phases.map((phase) => listIndexed(store, { ...options, ...(phase === undefined ? {} : { phase }) })));
  if (pages.length === 1) return pages[0]!;
  const bounds = pages.flatMap((p) => (p.next === undefined ? [] : [p.next])).sort(byId);
  const bound = bounds[0];
  const conversations = pages
    .flatMap((p) => p.conversations)
    .filter((c) => bound === undefined || byId(c.id, bound) <= 0)
    .sort((a, b) => byId(a.id, b.id));
  return { conversations, ...(bound === undefined ? {} : { next: bound }) };
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function conversationRow(summary: ConversationSummary, nowMs: number): ConversationRow {
  const failure = summary.failure === undefined ? undefined : [summary.failure.reason, summary.failure.cause].filter(Boolean).join(': ');
  return {
    id: summary.id,
    phase: summary.phase,
    ...(summary.version === undefined ? {} : { version: summary.version }),
    inFlight: summary.inFlight,
    ...(failure === undefined ? {} : { failure }),
    ...(summary.createdAt === undefined ? {} : { createdAt: summary.createdAt, ageMs: Math.max(0, nowMs - summary.createdAt) }),
    lastActivityAt: summary.lastActivityAt,
    idleMs: Math.max(0, nowMs - summary.lastActivityAt),
    steps: summary.stepCount,
  };
}

function matches(row: ConversationRow, filter: ConversationFilter): boolean {
  if (filter.stuckMs !== undefined && (!row.inFlight || row.idleMs <= filter.stuckMs)) return false;
  return true;
}

/** `liminal show <id>`: the journal's own summary and every record, read from the journal. */
export interface ConversationDetail {
  readonly id: string;
  readonly phase: TimelineSummary['phase'];
  /** `recorded`: the journal's own phase; `derived`: a journal without lifecycle events (see `readConversationTimeline`). */
  readonly phaseSource: TimelineSummary['phaseSource'];
  readonly version?: string;
  readonly inFlight: boolean;
  readonly failure?: string;
  readonly createdAt?: number;
  readonly lastActivityAt?: number;
  readonly ageMs?: number;
  readonly idleMs?: number;
  readonly messages: number;
  readonly steps: number;
  readonly compensations: number;
  readonly journalLength: number;
  readonly pendingTimers: TimelineSummary['pendingTimers'];
  readonly timeline: ConversationTimeline['entries'];
}

export async function showConversation(store: DurableStore, id: string, nowMs: number): Promise<ConversationDetail> {
  const timeline = await readConversationTimeline(store, id);
  if (timeline === undefined) throw new NotFoundError('conversation', id);
  const { summary } = timeline;
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
    journalLength: timeline.length,
    pendingTimers: summary.pendingTimers,
    timeline: timeline.entries,
  };
}
