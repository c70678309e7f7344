import { TraceContext, type ConversationHeader, type LifecycleEvent } from '@liminal/durability';
import { DecodeError } from '@liminal/store';
import type { Actor } from 'xstate';
import type { conversationMachine } from '../conversationMachine.js';
import type { ConversationLogEntry, RestoredConversation } from '../conversationTypes.js';
import { ConversationMessage } from '../ConversationMessage.js';
import type { Envelope } from '../participant.js';
import type { FailureReason } from '../phases.js';
import { failureReasons } from '../phases.js';
import { describeError } from './describeError.js';
import { phaseOf } from './phaseOf.js';

export function restoredFrom(header: ConversationHeader, participants: readonly string[]): RestoredConversation {
  const failure = header.failure;
  if (failure !== undefined && !failureReasons.includes(failure.reason as FailureReason)) {
    throw new DecodeError(`journal records an unknown failure reason ${JSON.stringify(failure.reason)}`);
  }
  return {
    phase: header.phase,
    participants: participants.map((participant) => {
      const exitedAt = header.exits.get(participant);
      return { participant, health: exitedAt === undefined ? { kind: 'alive' } : { kind: 'dead', exitedAt } };
    }),
    log: header.recentLog.map(decodeLogEntry),
    failure: failure && { reason: failure.reason as FailureReason, ...(failure.cause === undefined ? {} : { cause: failure.cause }) },
  };
}

/**
 * Journals what the conversation's snapshots change: a new phase (with the
 * failure reason when it fails), participants that exit, log entries. Writes
 * are queued in snapshot order by `record` (the journal serialises them), so
 * whoever flushes the journal after a transition finds them written. It
 * starts from the journal's own view (`restored`), so a reopen writes only
 * what really changed.
 */
export function persistChanges(
  actor: Actor<typeof conversationMachine>,
  restored: RestoredConversation,
  record: (event: LifecycleEvent) => void,
  now: () => number,
): void {
  let phase = restored.phase;
  const dead = new Set(restored.participants.filter((status) => status.health.kind === 'dead').map((status) => status.participant));
  let logged = restored.log.length;
  const observe = () => {
    const snapshot = actor.getSnapshot();
    const { context } = snapshot;
    if (context.log.length > logged) {
      for (const entry of context.log.since(logged)) record({ kind: 'entryLogged', entry: encodeLogEntry(entry) });
      logged = context.log.length;
    }
    for (const status of context.participants) {
      if (status.health.kind === 'dead' && !dead.has(status.participant)) {
        dead.add(status.participant);
        record({ kind: 'participantExited', participant: status.participant, exitedAt: status.health.exitedAt });
      }
    }
    const current = phaseOf(snapshot);
    if (current !== phase) {
      phase = current;
      const failure = current === 'failed' ? context.failure : undefined;
      record({
        kind: 'phaseChanged',
        phase: current,
        at: now(),
        ...(failure === undefined ? {} : { failure: failure.reason }),
        ...(failure?.cause === undefined ? {} : { cause: describeError(failure.cause) }),
      });
    }
  };
  observe();
  actor.subscribe(observe);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

interface StoredEnvelope {
  readonly id: string;
  readonly sender: string;
  readonly inReplyTo?: string;
  readonly payload: unknown;
  readonly traceparent: string;
}

/**
 * A log entry as JSON. Payloads are JSON values in durable mode; errors are
 * kept as their `"Name: message"` text, which is what a reopened
 * conversation's log shows.
 */
export function encodeLogEntry(entry: ConversationLogEntry): Uint8Array {
  const stored = (() => {
    switch (entry.kind) {
      case 'sent':
      case 'received':
        return { kind: entry.kind, envelope: storeEnvelope(entry.envelope) };
      case 'participantCrashed':
      case 'compensationFailed':
        return { ...entry, error: describeError(entry.error) };
      case 'compensated':
        return entry;
    }
  })();
  return encoder.encode(JSON.stringify(stored));
}

export function decodeLogEntry(bytes: Uint8Array): ConversationLogEntry {
  let parsed: { kind?: unknown; envelope?: StoredEnvelope };
  try {
    parsed = JSON.parse(decoder.decode(bytes)) as typeof parsed;
  } catch (error) {
    throw new DecodeError('log entry is not UTF-8 JSON', { cause: error });
  }
  switch (parsed?.kind) {
    case 'sent':
    case 'received':
      return { kind: parsed.kind, envelope: loadEnvelope(parsed.envelope) };
    case 'participantCrashed':
    case 'compensated':
    case 'compensationFailed':
      return parsed as ConversationLogEntry;
    default:
      throw new DecodeError(`unknown log entry kind ${JSON.stringify(parsed?.kind)}`);
  }
}

/** A message as its durable receipt keeps it (see `DurableSteps.receive`): the same JSON as in the log. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(storeEnvelope(envelope)));
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let stored: StoredEnvelope;
  try {
    stored = JSON.parse(decoder.decode(bytes)) as StoredEnvelope;
  } catch (error) {
    throw new DecodeError('a received message is not UTF-8 JSON', { cause: error });
  }
  return loadEnvelope(stored);
}

function storeEnvelope(envelope: Envelope): StoredEnvelope {
  return {
    id: envelope.id,
    sender: envelope.sender,
    ...(envelope.inReplyTo === undefined ? {} : { inReplyTo: envelope.inReplyTo }),
    payload: envelope.message.payload,
    traceparent: envelope.message.traceContext.toTraceparent(),
  };
}

function loadEnvelope(stored: StoredEnvelope | undefined): Envelope {
  if (typeof stored?.id !== 'string' || typeof stored.sender !== 'string' || typeof stored.traceparent !== 'string') {
    throw new DecodeError('log entry envelope is malformed');
  }
  return {
    id: stored.id,
    sender: stored.sender,
    message: new ConversationMessage(stored.payload, TraceContext.parse(stored.traceparent)),
    inReplyTo: stored.inReplyTo,
  };
}
