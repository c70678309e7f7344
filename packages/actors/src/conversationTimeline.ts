import { codec, CONVERSATION_EVENT_KINDS, type ConversationEvent, type ConversationPhase } from '@liminal/durability';
import { DecodeError, readBatches, type DurableStore } from '@liminal/store';
import { COMPENSATION_MESSAGE_ID } from './DurableSteps.js';
import { decodeStepRecord } from './internal/stepRecord.js';
import { jsonCodec } from './steps.js';

/** A recorded value as a reader can show it: JSON when the bytes are the JSON step codec's, hex otherwise. */
export type RecordedValue = { readonly kind: 'json'; readonly value: unknown } | { readonly kind: 'bytes'; readonly hex: string };

/** One record of a durable conversation's journal, decoded for people and tools (`liminal show`). */
export type TimelineEntry =
  | { readonly kind: 'received'; readonly seq: number; readonly messageId: string; readonly receivedAt: number }
  | { readonly kind: 'started'; readonly seq: number; readonly messageId: string }
  | {
      readonly kind: 'step';
      readonly seq: number;
      readonly messageId: string;
      readonly stepIndex: number;
      /** The step's name; absent only for records written before steps were named. */
      readonly name?: string;
      /** The compensation this step registered, if any. */
      readonly compensation?: string;
      readonly output: RecordedValue;
      /** How long the step ran (ms, by the steps' clock); absent for records written before durations were journaled. */
      readonly durationMs?: number;
    }
  /** A durable timer (`steps.sleep` / `sleepUntil`): the step waits until `wakeAt` (epoch ms). */
  | { readonly kind: 'timer'; readonly seq: number; readonly messageId: string; readonly stepIndex: number; readonly name: string; readonly wakeAt: number }
  /** The message's final record: its reply (absent: none) and the compensations it keeps. */
  | { readonly kind: 'reply'; readonly seq: number; readonly messageId: string; readonly reply?: RecordedValue; readonly compensations: readonly string[] }
  | { readonly kind: 'finished'; readonly seq: number; readonly messageId: string }
  | { readonly kind: 'error'; readonly seq: number; readonly messageId: string; readonly error: string }
  | { readonly kind: 'compensationPlan'; readonly seq: number; readonly cause?: string; readonly compensations: readonly string[] }
  | { readonly kind: 'compensationStarted'; readonly seq: number; readonly compensation: string }
  | { readonly kind: 'compensationOutcome'; readonly seq: number; readonly compensation: string; readonly outcome: RecordedValue }
  | { readonly kind: 'created'; readonly seq: number; readonly version: string; readonly createdAt: number; readonly deadline?: number }
  | { readonly kind: 'phase'; readonly seq: number; readonly phase: ConversationPhase; readonly at: number; readonly failure?: string; readonly cause?: string }
  | { readonly kind: 'participantExited'; readonly seq: number; readonly participant: string; readonly exitedAt: number }
  | { readonly kind: 'logged'; readonly seq: number; readonly entry: RecordedValue };

/**
 * What the journal says about the conversation as a whole. `phase` is the
 * recorded one (`phaseChanged`) when the journal has lifecycle events; a
 * journal without them (written by DurableSteps alone, or before phases were
 * recorded) is `failed` once a compensation run was recorded or when it ends
 * on an error, `active` otherwise, and says so in `phaseSource`.
 */
export interface TimelineSummary {
  readonly phase: ConversationPhase;
  readonly phaseSource: 'recorded' | 'derived';
  readonly version?: string;
  readonly failure?: string;
  /** A message is received or started and not finished (nor errored). */
  readonly inFlight: boolean;
  /** Epoch ms: `conversationCreated`'s time, else the first message's. */
  readonly createdAt?: number;
  /** Epoch ms of the newest timestamped record (messages received, phase changes, exits). */
  readonly lastActivityAt?: number;
  readonly messages: number;
  readonly steps: number;
  readonly compensations: number;
  /** Timers of unfinished messages that are the message's latest step: it sleeps until `wakeAt`. */
  readonly pendingTimers: readonly { readonly messageId: string; readonly name: string; readonly wakeAt: number }[];
}

export interface ConversationTimeline {
  readonly id: string;
  /** Number of journal records read (the journal's length). */
  readonly length: number;
  readonly entries: readonly TimelineEntry[];
  readonly summary: TimelineSummary;
}

const PAGE = 1024;

/**
 * Reads the journal of durable conversation `id` (the stream
 * `openConversation({ mode: 'durable', id })` and `DurableSteps` write) into a
 * timeline, without running anything; `undefined` when the stream is empty.
 * A record that is not a conversation event is a `DecodeError`.
 */
export async function readConversationTimeline(store: DurableStore, id: string): Promise<ConversationTimeline | undefined> {
  const entries: TimelineEntry[] = [];
  const plans = new Map<number, readonly string[]>();
  let length = 0;
  for await (const batch of readBatches(store, id, 0, PAGE)) {
    for (const { sequence, payload } of batch) {
      const event = codec.decodeAs(payload, ...CONVERSATION_EVENT_KINDS);
      entries.push(timelineEntry(sequence, event, plans));
      length = sequence + 1;
    }
  }
  if (length === 0) return undefined;
  return { id, length, entries, summary: summarize(entries) };
}

/** True when `bytes` is a conversation journal record (what `readConversationTimeline` reads). */
export function isConversationRecord(bytes: Uint8Array): boolean {
  try {
    return (CONVERSATION_EVENT_KINDS as readonly string[]).includes(codec.decode(bytes).kind);
  } catch {
    return false;
  }
}

function timelineEntry(seq: number, event: ConversationEvent, plans: Map<number, readonly string[]>): TimelineEntry {
  switch (event.kind) {
    case 'messageReceived':
      return { kind: 'received', seq, messageId: event.messageId, receivedAt: event.receivedAt };
    case 'processingStarted':
      return { kind: 'started', seq, messageId: event.messageId };
    case 'processingFinished':
      return { kind: 'finished', seq, messageId: event.messageId };
    case 'errorOccurred':
      return { kind: 'error', seq, messageId: event.messageId, error: event.error };
    case 'stepCompleted':
      if (event.messageId === COMPENSATION_MESSAGE_ID) return compensationEntry(seq, event.stepIndex, event.output, plans);
      return stepEntry(seq, event.messageId, event.stepIndex, event.output);
    case 'conversationCreated':
      return { kind: 'created', seq, version: event.version, createdAt: event.createdAt, ...(event.deadline === undefined ? {} : { deadline: event.deadline }) };
    case 'phaseChanged':
      return {
        kind: 'phase',
        seq,
        phase: event.phase,
        at: event.at,
        ...(event.failure === undefined ? {} : { failure: event.failure }),
        ...(event.cause === undefined ? {} : { cause: event.cause }),
      };
    case 'participantExited':
      return { kind: 'participantExited', seq, participant: event.participant, exitedAt: event.exitedAt };
    case 'entryLogged':
      return { kind: 'logged', seq, entry: plainJson(event.entry) };
  }
}

function stepEntry(seq: number, messageId: string, stepIndex: number, output: Uint8Array): TimelineEntry {
  const record = decodeStepRecord(output);
  switch (record.kind) {
    case 'step':
      return { kind: 'step', seq, messageId, stepIndex, name: record.name, output: recordedValue(record.payload), ...durationOf(record) };
    case 'timer':
      return { kind: 'timer', seq, messageId, stepIndex, name: record.name, wakeAt: record.wakeAt };
    case 'compensable':
      return {
        kind: 'step',
        seq,
        messageId,
        stepIndex,
        name: record.registration.step,
        compensation: record.registration.compensation,
        output: recordedValue(record.payload),
        ...durationOf(record),
      };
    case 'final': {
      const { reply, compensations } = record.final;
      return {
        kind: 'reply',
        seq,
        messageId,
        ...(reply === undefined ? {} : { reply: { kind: 'json', value: reply.value } as const }),
        compensations: compensations.map((entry) => entry.compensation),
      };
    }
  }
}

function durationOf(record: { readonly durationMs?: number }): { durationMs?: number } {
  return record.durationMs === undefined ? {} : { durationMs: record.durationMs };
}

/** The compensation run's steps: 0 is the plan, then per planned compensation `started` and its outcome. */
function compensationEntry(seq: number, stepIndex: number, output: Uint8Array, plans: Map<number, readonly string[]>): TimelineEntry {
  const value = recordedValue(output);
  if (stepIndex === 0) {
    const plan = value.kind === 'json' ? (value.value as { cause?: { participant?: unknown; error?: unknown }; compensations?: unknown }) : undefined;
    if (typeof plan !== 'object' || plan === null || !Array.isArray(plan.compensations)) throw new DecodeError('compensation plan is malformed');
    const names = plan.compensations.map((entry) => String((entry as { compensation?: unknown }).compensation));
    plans.set(0, names);
    const cause = plan.cause === undefined ? undefined : `${String(plan.cause.participant)}: ${String(plan.cause.error)}`;
    return { kind: 'compensationPlan', seq, ...(cause === undefined ? {} : { cause }), compensations: names };
  }
  const compensation = plans.get(0)?.[Math.floor((stepIndex - 1) / 2)] ?? `#${Math.floor((stepIndex - 1) / 2)}`;
  return stepIndex % 2 === 1 ? { kind: 'compensationStarted', seq, compensation } : { kind: 'compensationOutcome', seq, compensation, outcome: value };
}

/** A conversation log entry: plain JSON written by this package (see internal/conversationPersistence.ts). */
function plainJson(bytes: Uint8Array): RecordedValue {
  try {
    return { kind: 'json', value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown };
  } catch {
    return { kind: 'bytes', hex: hex(bytes) };
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function recordedValue(bytes: Uint8Array): RecordedValue {
  try {
    return { kind: 'json', value: jsonCodec.decode(bytes) };
  } catch {
    return { kind: 'bytes', hex: hex(bytes) };
  }
}

function summarize(entries: readonly TimelineEntry[]): TimelineSummary {
  const open = new Set<string>();
  const latestTimer = new Map<string, Extract<TimelineEntry, { kind: 'timer' }> | undefined>();
  let recorded: Extract<TimelineEntry, { kind: 'phase' }> | undefined;
  let created: Extract<TimelineEntry, { kind: 'created' }> | undefined;
  let firstReceived: number | undefined;
  let lastActivityAt: number | undefined;
  let compensated: string | undefined;
  let messages = 0;
  let steps = 0;
  let compensations = 0;
  const touch = (at: number) => void (lastActivityAt = Math.max(lastActivityAt ?? at, at));
  for (const entry of entries) {
    switch (entry.kind) {
      case 'received':
        if (entry.messageId !== COMPENSATION_MESSAGE_ID) {
          messages += 1;
          open.add(entry.messageId);
        }
        firstReceived ??= entry.receivedAt;
        touch(entry.receivedAt);
        break;
      case 'step':
        steps += 1;
        latestTimer.set(entry.messageId, undefined);
        break;
      case 'timer':
        steps += 1;
        latestTimer.set(entry.messageId, entry);
        break;
      case 'finished':
      case 'error':
        open.delete(entry.messageId);
        break;
      case 'compensationPlan':
        compensated = `compensated after ${entry.cause ?? 'a crash'}`;
        break;
      case 'compensationOutcome':
        compensations += 1;
        break;
      case 'created':
        created = entry;
        touch(entry.createdAt);
        break;
      case 'phase':
        recorded = entry;
        touch(entry.at);
        break;
      case 'participantExited':
        touch(entry.exitedAt);
        break;
      case 'started':
      case 'reply':
      case 'compensationStarted':
      case 'logged':
        break;
    }
  }
  const last = entries.at(-1);
  const derivedFailure = compensated ?? (last?.kind === 'error' ? last.error : undefined);
  const phase: ConversationPhase = recorded?.phase ?? (derivedFailure === undefined ? 'active' : 'failed');
  const failure = recorded === undefined ? derivedFailure : recorded.failure === undefined ? undefined : [recorded.failure, recorded.cause].filter(Boolean).join(': ');
  const createdAt = created?.createdAt ?? firstReceived;
  return {
    phase,
    phaseSource: recorded === undefined ? 'derived' : 'recorded',
    ...(created === undefined ? {} : { version: created.version }),
    ...(failure === undefined ? {} : { failure }),
    inFlight: open.size > 0 && phase !== 'failed' && phase !== 'closed',
    ...(createdAt === undefined ? {} : { createdAt }),
    ...(lastActivityAt === undefined ? {} : { lastActivityAt }),
    messages,
    steps,
    compensations,
    pendingTimers: [...latestTimer.values()]
      .filter((timer) => timer !== undefined && open.has(timer.messageId))
      .map((timer) => ({ messageId: timer!.messageId, name: timer!.name, wakeAt: timer!.wakeAt })),
  };
}
