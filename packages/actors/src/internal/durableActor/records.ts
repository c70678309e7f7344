import { codec } from '@liminal/durability';
import { DecodeError, errorMessage, InvalidArgumentError } from '@liminal/store';

/**
 * Where an actor of a durable actor's system lives: the ids from the root
 * down (the root is `[]`) and the creation number of that incarnation, so an
 * event for a child that was stopped and invoked again under the same id is
 * not delivered to its successor.
 */
export interface Address {
  readonly path: readonly string[];
  readonly uid: number;
}

/** A JSON value as the journal keeps it (errors travel as `SerializedError`). */
export type Json = unknown;

/**
 * The journal of a durable actor. `created` is always entry 0. Inputs are
 * what the machines cannot compute themselves, so replaying them rebuilds
 * every state: events from outside (`event` without `source`), events that
 * promise, callback and observable children produced (`event` with
 * `source`), and timer firings. `opened` marks a new owner (it fences the
 * previous one) and `actionError` tells replay which custom action threw
 * while input `inputSeq` was processed, since replay does not run actions.
 */
export type JournalRecord =
  | { readonly kind: 'created'; readonly machineId: string; readonly version: string | null; readonly input: Json; readonly at: number }
  | { readonly kind: 'opened'; readonly at: number }
  | { readonly kind: 'event'; readonly at: number; readonly target: Address; readonly source?: Address; readonly event: Json }
  | { readonly kind: 'timer'; readonly at: number; readonly timer: number }
  | { readonly kind: 'actionError'; readonly inputSeq: number; readonly ordinal: number; readonly error: Json };

export type InputRecord = Extract<JournalRecord, { kind: 'event' | 'timer' }>;

/** A delayed event waiting for its deadline (absolute, epoch ms of the actor's clock). */
export interface TimerRecord {
  readonly timer: number;
  readonly source: Address;
  readonly target: Address;
  readonly sendId: string;
  readonly event: Json;
  readonly deadline: number;
}

/**
 * The state after the first `coversSeq` journal entries: XState's persisted
 * snapshot of the root (children included), the timers, the creation
 * numbers of every live actor (by path) and the counters replay continues.
 */
export interface SnapshotRecord {
  readonly kind: 'snapshot';
  readonly coversSeq: number;
  readonly persisted: Json;
  readonly timers: readonly TimerRecord[];
  readonly uids: readonly (readonly [string, number])[];
  readonly nextUid: number;
  readonly nextTimer: number;
}

const ERROR_TAG = '$liminal.error';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON with errors kept as `{name, message}` (a promise rejection or a thrown
 * action error is usually an Error, which plain JSON turns into `{}`).
 */
export function toJson(argument: string, value: unknown): string {
  try {
    // A replacer takes JSON.stringify off its fast path: only values it would change need one.
    const text = needsReplacer(value, [])
      ? JSON.stringify(value, (_key, v: unknown) =>
          v instanceof Error ? { [ERROR_TAG]: { name: v.name, message: v.message } } : typeof v === 'bigint' ? fail('a bigint') : v,
        )
      : JSON.stringify(value);
    return text ?? 'null';
  } catch (error) {
    throw new InvalidArgumentError(argument, `must be JSON-serializable (${errorMessage(error)})`);
  }
}

/**
 * Whether `value` holds what the replacer handles (an Error, a bigint), a
 * `toJSON` (whose result the replacer would see), or a cycle (the replacer
 * path reports it): what JSON.stringify visits, own enumerable keys.
 */
function needsReplacer(value: unknown, ancestors: object[]): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Error || typeof (value as { toJSON?: unknown }).toJSON === 'function' || ancestors.includes(value)) return true;
  ancestors.push(value);
  const children = Array.isArray(value) ? value : Object.values(value);
  const needs = children.some((child) => needsReplacer(child, ancestors));
  ancestors.pop();
  return needs;
}

export function fromJson(text: string): unknown {
  // A reviver slows JSON.parse several times over: only text that holds an error needs one.
  if (!text.includes(ERROR_TAG)) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && ERROR_TAG in v) {
      const { name, message } = (v as Record<string, { name: string; message: string }>)[ERROR_TAG]!;
      const error = new Error(message);
      error.name = name;
      return error;
    }
    return v;
  });
}

/** `value` as the journal will give it back to a replay. */
export function roundTrip<T>(argument: string, value: T): T {
  if (isBareEvent(value)) return { type: value.type } as T;
  return fromJson(toJson(argument, value)) as T;
}

/** `roundTrip` of an event, with the JSON text its journal entry holds (see `encodeRecord`). */
export function copyEvent<T>(argument: string, value: T): { readonly event: T; readonly text: string } {
  if (isBareEvent(value)) return { event: { type: value.type } as T, text: `{"type":${JSON.stringify(value.type)}}` };
  const text = toJson(argument, value);
  return { event: fromJson(text) as T, text };
}

/**
 * A plain object whose only own enumerable key is a string `type` (XState's
 * `after` events, most sent events): its JSON round trip is `{ type }`, so
 * it is copied without serializing it (this runs once or twice per event).
 */
function isBareEvent(value: unknown): value is { readonly type: string } {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'type' && typeof (value as { type?: unknown }).type === 'string';
}

function fail(what: string): never {
  throw new TypeError(`cannot store ${what}`);
}

/** `eventText`: the JSON of an `event` record's event when `copyEvent` gave it, so the event is not serialized again. */
export function encodeRecord(record: JournalRecord | SnapshotRecord, eventText?: string): Uint8Array {
  const json = record.kind === 'event' && eventText !== undefined ? eventRecordJson(record, eventText) : toJson('record', record);
  return codec.encode({ kind: 'actorRecord', payload: encoder.encode(json) });
}

/**
 * The text `toJson` gives for the record's fields with `event` last, written
 * directly: addresses hold only strings and integers and `at` is a number,
 * so nothing here needs the replacer walk (this runs once per event).
 */
function eventRecordJson({ target, source, at }: Extract<JournalRecord, { kind: 'event' }>, eventText: string): string {
  const from = source === undefined ? '' : `,"source":${JSON.stringify(source)}`;
  return `{"kind":"event","target":${JSON.stringify(target)}${from},"at":${JSON.stringify(at)},"event":${eventText}}`;
}

export function decodeJournalRecord(bytes: Uint8Array): JournalRecord {
  const record = decodeBody(bytes);
  if (!isJournalRecord(record)) throw new DecodeError(`not a durable actor journal record: ${describe(record)}`);
  return record;
}

export function decodeSnapshotRecord(bytes: Uint8Array): SnapshotRecord {
  const record = decodeBody(bytes) as Partial<SnapshotRecord> | null;
  if (
    record?.kind !== 'snapshot' ||
    !Number.isSafeInteger(record.coversSeq) ||
    !Array.isArray(record.timers) ||
    !record.timers.every(isTimer) ||
    !Array.isArray(record.uids) ||
    !Number.isSafeInteger(record.nextUid) ||
    !Number.isSafeInteger(record.nextTimer) ||
    typeof record.persisted !== 'object'
  ) {
    throw new DecodeError(`not a durable actor snapshot record: ${describe(record)}`);
  }
  return record as SnapshotRecord;
}

function decodeBody(bytes: Uint8Array): unknown {
  const { payload } = codec.decodeAs(bytes, 'actorRecord');
  try {
    return fromJson(decoder.decode(payload));
  } catch (error) {
    throw new DecodeError('durable actor record is not UTF-8 JSON', { cause: error });
  }
}

function isJournalRecord(value: unknown): value is JournalRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  switch (r['kind']) {
    case 'created':
      return typeof r['machineId'] === 'string' && (r['version'] === null || typeof r['version'] === 'string') && isTime(r['at']);
    case 'opened':
      return isTime(r['at']);
    case 'event':
      return isTime(r['at']) && isAddress(r['target']) && (r['source'] === undefined || isAddress(r['source'])) && isEvent(r['event']);
    case 'timer':
      return isTime(r['at']) && Number.isSafeInteger(r['timer']);
    case 'actionError':
      return Number.isSafeInteger(r['inputSeq']) && Number.isSafeInteger(r['ordinal']);
    default:
      return false;
  }
}

function isTimer(value: unknown): value is TimerRecord {
  const t = value as Partial<TimerRecord> | null;
  return (
    typeof t === 'object' && t !== null && Number.isSafeInteger(t.timer) && isAddress(t.source) && isAddress(t.target) &&
    typeof t.sendId === 'string' && isTime(t.deadline) && isEvent(t.event)
  );
}

function isAddress(value: unknown): value is Address {
  const a = value as Partial<Address> | null;
  return typeof a === 'object' && a !== null && Array.isArray(a.path) && a.path.every((id) => typeof id === 'string') && Number.isSafeInteger(a.uid);
}

function isEvent(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
