import type { RecordedValue, TimelineEntry } from '@liminal/actors';
import Table from 'cli-table3';
import type { ChannelRow, ClaimsView, GroupsView, LagView } from './channels.js';
import type { ConversationDetail, ConversationPage, ConversationRow } from './conversations.js';
import { formatDuration } from './duration.js';

// No rule between rows: a timeline of hundreds of records stays readable.
const compact = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** Human output: plain tables (no colours, so they survive pipes and logs). */
function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const t = new Table({ head: [...head], style: { head: [], border: [] }, chars: compact });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

const dash = '—';
const at = (ms: number | undefined): string => (ms === undefined ? dash : new Date(ms).toISOString());
const ago = (ms: number | undefined): string => (ms === undefined ? dash : formatDuration(ms));

export function renderChannels(rows: readonly ChannelRow[]): string {
  if (rows.length === 0) return 'no channels in this store';
  return table(
    ['channel', 'partitions', 'published', 'consumers', 'max lag'],
    rows.map((row) => [row.name, row.partitions, row.published, row.consumers.join(', ') || dash, row.maxLag]),
  );
}

export function renderLag(view: LagView): string {
  const heads = new Map(view.partitions.map(({ partition, head }) => [partition, head]));
  const lines = [`channel ${view.channel}: ${view.partitions.length} partitions, total lag ${view.totalLag}`];
  if (view.positions.length === 0) {
    lines.push(table(['partition', 'head'], view.partitions.map(({ partition, head }) => [partition, head])), 'no consumer has committed a cursor on this channel');
  } else {
    lines.push(
      table(
        ['consumer', 'partition', 'head', 'cursor', 'lag'],
        view.positions.map((p) => [p.consumerId, p.partition, heads.get(p.partition) ?? 0, p.offset, p.lag]),
      ),
    );
  }
  return lines.join('\n');
}

export function renderGroups(view: GroupsView): string {
  if (view.groups.length === 0) return `no worker group has joined channel ${view.channel}`;
  const lines: string[] = [];
  for (const group of view.groups) {
    lines.push(`group ${group.group} on ${view.channel}: ${group.members.length} members, membership log ${group.logLength} records`);
    if (group.members.length > 0) {
      lines.push(table(['incarnation', 'member', 'heartbeats', 'assigned partitions'], group.members.map((m) => [m.incarnation, m.memberId, m.heartbeats, m.assigned.join(', ') || dash])));
    }
    lines.push(
      table(
        ['partition', 'lease holder', 'epoch', 'cursor', 'lag'],
        group.partitions.map((p) => [p.partition, p.holder === undefined ? '(free)' : `${p.holderId ?? '?'} (#${p.holder})`, p.epoch, p.offset, p.lag]),
      ),
    );
  }
  return lines.join('\n');
}

export function renderClaims(view: ClaimsView, inFlight: boolean): string {
  const lines: string[] = [];
  if (view.claims.length === 0) lines.push(`no ${inFlight ? 'in-flight claims' : 'entries'} in namespace ${view.namespace}`);
  else {
    lines.push(
      table(
        ['key', 'state', 'owner', 'since', 'age', 'lease expires'],
        view.claims.map((c) =>
          c.state === 'claimed'
            ? [c.key, c.expired === true ? 'claimed (expired)' : 'claimed', c.owner, at(c.claimedAtMs), ago(c.ageMs), at(c.expiresAtMs)]
            : [c.key, c.state, dash, at(c.completedAtMs), ago(c.ageMs), dash],
        ),
      ),
    );
  }
  if (view.next !== undefined) lines.push(`more: --after ${quote(view.next)}`);
  return lines.join('\n');
}

export function renderConversations(page: ConversationPage): string {
  const lines: string[] = [];
  if (page.rows.length === 0) lines.push('no conversations match');
  else lines.push(table(['id', 'phase', 'version', 'age', 'last activity', 'steps', 'failure'], page.rows.map(conversationCells)));
  if (page.next !== undefined) lines.push(`more: --after ${quote(page.next)}`);
  return lines.join('\n');
}

function conversationCells(row: ConversationRow): (string | number)[] {
  return [row.id, phaseOf(row), row.version ?? dash, ago(row.ageMs), `${formatDuration(row.idleMs)} ago`, row.steps, row.failure ?? dash];
}

export function renderConversation(detail: ConversationDetail): string {
  const header = [
    `conversation ${detail.id}`,
    `phase ${phaseOf(detail)}${detail.failure === undefined ? '' : ` (${detail.failure})`}, version ${detail.version ?? dash}`,
    `created ${at(detail.createdAt)} (age ${ago(detail.ageMs)}), last activity ${at(detail.lastActivityAt)}`,
    `${detail.messages} messages, ${detail.steps} steps, ${detail.compensations} compensations, ${detail.journalLength} journal records`,
    ...detail.pendingTimers.map((timer) => `timer pending: ${timer.name} (message ${timer.messageId}) wakes at ${new Date(timer.wakeAt).toISOString()}`),
  ];
  const rows = detail.timeline.map((entry) => {
    const [record, about] = describe(entry);
    return [entry.seq, timeOf(entry), messageOf(entry), record, tookOf(entry), about];
  });
  return [...header, table(['seq', 'time', 'message', 'record', 'took', 'detail'], rows)].join('\n');
}

/** `active, in flight`; a phase the journal did not record is marked `(derived)`. */
function phaseOf(row: ConversationRow | ConversationDetail): string {
  return `${row.phase}${row.inFlight ? ', in flight' : ''}${'phaseSource' in row && row.phaseSource === 'derived' ? ' (derived)' : ''}`;
}

function timeOf(entry: TimelineEntry): string {
  const at = entry.kind === 'received' ? entry.receivedAt : entry.kind === 'phase' ? entry.at : entry.kind === 'created' ? entry.createdAt : entry.kind === 'participantExited' ? entry.exitedAt : undefined;
  return at === undefined ? '' : new Date(at).toISOString();
}

/** How long a step ran, as journaled (empty for other records and for steps journaled before durations were). */
function tookOf(entry: TimelineEntry): string {
  return entry.kind === 'step' && entry.durationMs !== undefined ? formatDuration(entry.durationMs) : '';
}

function messageOf(entry: TimelineEntry): string {
  if ('messageId' in entry) return entry.messageId;
  return entry.kind.startsWith('compensation') ? 'compensation run' : 'conversation';
}

function describe(entry: TimelineEntry): [string, string] {
  switch (entry.kind) {
    case 'received':
      return ['received', ''];
    case 'started':
      return ['started', ''];
    case 'step':
      return [`step ${entry.name ?? `#${entry.stepIndex}`}`, `${value(entry.output)}${entry.compensation === undefined ? '' : ` (undo: ${entry.compensation})`}`];
    case 'timer':
      return [`sleep ${entry.name}`, `until ${new Date(entry.wakeAt).toISOString()}`];
    case 'reply':
      return ['reply', entry.reply === undefined ? '(none)' : value(entry.reply)];
    case 'finished':
      return ['finished', ''];
    case 'error':
      return ['error', entry.error];
    case 'compensationPlan':
      return ['compensation plan', `${entry.compensations.join(' -> ') || '(nothing to undo)'}${entry.cause === undefined ? '' : `, after ${entry.cause}`}`];
    case 'compensationStarted':
      return [`compensation ${entry.compensation}`, 'started'];
    case 'compensationOutcome':
      return [`compensation ${entry.compensation}`, value(entry.outcome)];
    case 'created':
      return ['created', `version ${entry.version}${entry.deadline === undefined ? '' : `, deadline ${new Date(entry.deadline).toISOString()}`}`];
    case 'phase':
      return [`phase ${entry.phase}`, [entry.failure, entry.cause].filter(Boolean).join(': ')];
    case 'participantExited':
      return ['participant exited', entry.participant];
    case 'logged':
      return ['log', logSummary(entry.entry)];
  }
}

/** A conversation log entry in a few words: its kind and what it is about. */
function logSummary(entry: RecordedValue): string {
  if (entry.kind !== 'json' || typeof entry.value !== 'object' || entry.value === null) return value(entry);
  const { kind, envelope, participant, compensation } = entry.value as { kind?: unknown; envelope?: { id?: unknown }; participant?: unknown; compensation?: unknown };
  const about = [envelope?.id, participant, compensation].filter((part) => typeof part === 'string').join(' ');
  return `${String(kind)}${about === '' ? '' : ` ${about}`}`;
}

/** JSON when it is JSON, hex otherwise; long values are cut for the table (`--json` has them whole). */
export function value(recorded: RecordedValue): string {
  const text = recorded.kind === 'json' ? (JSON.stringify(recorded.value) ?? 'undefined') : `0x${recorded.hex}`;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function quote(text: string): string {
  return /^[\w:./@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
