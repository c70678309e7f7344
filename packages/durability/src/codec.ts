import { crc32 } from 'node:zlib';
import { assertNonNegativeSafeInteger, assertPayload, DecodeError, InvalidArgumentError } from '@liminal/store';
import { CONVERSATION_PHASES, type ConversationEvent, type ConversationPhase } from './ConversationEvent.js';
import type { ConversationHeader, MessageProgress } from './ConversationState.js';

/**
 * Every record this package stores, as one discriminated union, so one codec
 * owns the byte format and a reader can always tell what it is looking at.
 */
export type DurableRecord =
  | ConversationEvent
  | ConversationSnapshot
  | DedupClaimRecord
  | DedupReceiptRecord
  | ChannelMessage
  | PublishReceipt
  | ScheduledPublishReceipt
  | ActorRecord
  | GroupRecord
  | ConversationSummaryRecord;

export type DurableRecordKind = DurableRecord['kind'];
export type RecordOf<K extends DurableRecordKind> = Extract<DurableRecord, { kind: K }>;

/**
 * An incremental snapshot: the conversation's header after its first
 * `coversSeq` events (its `recentLog` holding only the entries logged by
 * events `fromSeq..coversSeq-1`), and every message those events changed
 * (every message, when `fromSeq` is 0). Applying a conversation's
 * snapshots in order, each starting where the previous one ended, gives its
 * state after `coversSeq` events, so each snapshot costs what changed since
 * the last one, not what the conversation ever saw.
 */
export interface ConversationSnapshot {
  readonly kind: 'conversationSnapshot';
  readonly conversationId: string;
  readonly fromSeq: number;
  readonly coversSeq: number;
  readonly header: ConversationHeader;
  readonly messages: readonly MessageProgress[];
}

/** The index entry of a conversation, rewritten when its phase changes (see ConversationIndex). */
export interface ConversationSummaryRecord {
  readonly kind: 'conversationSummary';
  readonly conversationId: string;
  readonly version?: string;
  readonly createdAt?: number;
  readonly phase: ConversationPhase;
  readonly failure?: string;
  readonly cause?: string;
}

/** A channel message as stored in its partition stream (the offset is the entry's sequence). */
export interface ChannelMessage {
  readonly kind: 'channelMessage';
  readonly messageId: string;
  readonly key: string;
  readonly causationId?: string;
  readonly traceparent?: string;
  readonly publishedAt: number;
  readonly payload: Uint8Array;
}

/** An owner's claim of an idempotency key, valid until `expiresAtMs` (see `DedupCache`). */
export interface DedupClaimRecord {
  readonly kind: 'dedupClaim';
  readonly key: string;
  /** The claim's fencing token (random, never reused). */
  readonly token: string;
  readonly owner: string;
  /** When the claim was taken (epoch ms, the claimer's clock). */
  readonly timestampMs: number;
  readonly expiresAtMs: number;
}

/** The receipt of a processed idempotency key; `token` names the claim it completed (none for a publish). */
export interface DedupReceiptRecord {
  readonly kind: 'dedupReceipt';
  readonly key: string;
  readonly token?: string;
  readonly receipt: Uint8Array;
  /** When it was completed (epoch ms): the start of its TTL. */
  readonly timestampMs: number;
}

/** Where a publish landed; stored as the dedup receipt of its idempotency key. */
export interface PublishReceipt {
  readonly kind: 'publishReceipt';
  readonly messageId: string;
  readonly partition: number;
  readonly sequence: number;
}

/**
 * Where a scheduled publish (`deliverAt`) was put: its partition and time, not
 * an offset, which it only gets once due. The dedup receipt of its idempotency key.
 */
export interface ScheduledPublishReceipt {
  readonly kind: 'scheduledPublishReceipt';
  readonly messageId: string;
  readonly partition: number;
  readonly deliverAt: number;
}

/**
 * One entry of a durable actor's journal or snapshot stream (@liminal/actors):
 * the envelope gives it a version and a kind; the payload is the actor
 * layer's own JSON record, which that layer validates.
 */
export interface ActorRecord {
  readonly kind: 'actorRecord';
  readonly payload: Uint8Array;
}

/**
 * An entry of a worker group's membership log. A member's incarnation is the
 * position of its `memberJoined` entry (counted across compactions); `leaseReleased` changes no membership,
 * it wakes the member waiting for that partition.
 */
export type GroupRecord =
  | { readonly kind: 'memberJoined'; readonly memberId: string }
  | { readonly kind: 'memberLeft'; readonly incarnation: number; readonly reason: MemberLeftReason }
  | { readonly kind: 'leaseReleased'; readonly incarnation: number; readonly partition: number }
  | GroupSnapshot;

/**
 * The first entry of a compacted membership log (see `MembershipLog`): the
 * state the records before it left. `position` is the number of records the
 * group ever appended before it, so the record after it has incarnation
 * `position` and incarnations stay unique across compactions; `owners[p]` is
 * the incarnation that owns partition `p`, `undefined` when nobody does.
 */
export interface GroupSnapshot {
  readonly kind: 'groupSnapshot';
  readonly position: number;
  /** Live members, ascending by incarnation. */
  readonly members: readonly { readonly incarnation: number; readonly memberId: string }[];
  readonly owners: readonly (number | undefined)[];
}

/** `left`: the member called `leave()`; `expired`: another member saw its heartbeat stop for a lease. */
export type MemberLeftReason = 'left' | 'expired';
const LEFT_REASONS: readonly MemberLeftReason[] = ['left', 'expired'];

/*
 * Layout (big-endian): MAGIC, VERSION, kind TAG, then the kind's fields in a
 * fixed order. Integers are u64 that must be safe integers; strings are UTF-8
 * and bytes are raw, both behind a u32 length; an optional field is a 0/1 byte
 * followed by the value. A decoder accepts exactly one record: anything
 * unknown, short or left over is a DecodeError, never a guess. A snapshot
 * ends with the CRC-32 of every byte before it: a snapshot is trusted instead
 * of the log, so a flipped bit must not pass as a different state.
 */
const MAGIC = 0x4c; // 'L'
export const CODEC_VERSION = 1;
const HEADER_LENGTH = 3;

const TAGS = {
  messageReceived: 0x01,
  processingStarted: 0x02,
  stepCompleted: 0x03,
  processingFinished: 0x04,
  errorOccurred: 0x05,
  conversationCreated: 0x06,
  phaseChanged: 0x07,
  participantExited: 0x08,
  entryLogged: 0x09,
  // 0x10 was the snapshot without checksum or header, 0x11 the one whose
  // header held the whole recent log: now unknown tags, so such a snapshot is
  // ignored, the log replayed, and the next snapshot starts a new chain.
  conversationSnapshot: 0x12,
  // 0x20-0x22 were the claim/receipt/tombstone of unowned claims (retired with owner-fenced claims).
  dedupClaim: 0x23,
  dedupReceipt: 0x24,
  channelMessage: 0x30,
  publishReceipt: 0x31,
  scheduledPublishReceipt: 0x32,
  actorRecord: 0x40,
  memberJoined: 0x50,
  memberLeft: 0x51,
  leaseReleased: 0x52,
  groupSnapshot: 0x53,
  conversationSummary: 0x60,
} as const satisfies Record<DurableRecordKind, number>;

/**
 * A `messageReceived` that carries its message (`payload`) has a tag of its
 * own, not an optional trailing field: a receipt cut short before its
 * payload must not read as a receipt without one.
 */
const RECEIPT_WITH_MESSAGE = 0x0a;

const KINDS = new Map<number, DurableRecordKind>([
  ...Object.entries(TAGS).map(([kind, tag]) => [tag, kind as DurableRecordKind] as const),
  [RECEIPT_WITH_MESSAGE, 'messageReceived'],
]);

const FLAG_RECEIVED = 1;
const FLAG_IN_PROGRESS = 2;
const FLAG_FINISHED = 4;
const FLAG_ERRORED = 8;
/** An unfinished message whose receipt carried the message itself (see `messageReceived.payload`). */
const FLAG_PAYLOAD = 16;
const KNOWN_FLAGS = FLAG_RECEIVED | FLAG_IN_PROGRESS | FLAG_FINISHED | FLAG_ERRORED | FLAG_PAYLOAD;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes into one growing buffer. One chunk per field (and a bigint per
 * u64) made encoding a tenth of a `processOnce`: every message encodes a
 * receipt and a claim.
 */
class Writer {
  #buffer: Uint8Array;
  #length = 0;

  /** `capacity`: the bytes expected, when known; a record that fills it exactly is returned without a copy. */
  constructor(capacity = 128) {
    this.#buffer = new Uint8Array(capacity);
  }

  byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  u32(value: number): void {
    this.#reserve(4);
    const buffer = this.#buffer;
    const at = this.#length;
    buffer[at] = value >>> 24;
    buffer[at + 1] = value >>> 16;
    buffer[at + 2] = value >>> 8;
    buffer[at + 3] = value;
    this.#length += 4;
  }

  /** Big-endian, as two u32 halves: a safe integer's high half is below 2^21. */
  u64(field: string, value: number): void {
    assertNonNegativeSafeInteger(field, value);
    this.u32(Math.floor(value / 0x1_0000_0000));
    this.u32(value >>> 0);
  }

  string(field: string, value: string): void {
    if (typeof value !== 'string') throw new InvalidArgumentError(field, `expected a string, got ${typeof value}`);
    // A lone surrogate would be stored as U+FFFD and read back as a different string.
    if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(field, 'contains a lone UTF-16 surrogate');
    // UTF-8 takes at most 3 bytes per UTF-16 unit: encoded in place after a length prefix written last.
    this.#reserve(4 + value.length * 3);
    const at = this.#length;
    const { written } = utf8.encodeInto(value, this.#buffer.subarray(at + 4));
    this.u32(written);
    this.#length += written;
  }

  bytes(field: string, value: Uint8Array): void {
    assertPayload(field, value);
    if (value.length > 0xffff_ffff) throw new InvalidArgumentError(field, 'longer than 4 GiB');
    this.u32(value.length);
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
  }

  optionalString(field: string, value: string | undefined): void {
    this.byte(value === undefined ? 0 : 1);
    if (value !== undefined) this.string(field, value);
  }

  optionalU64(field: string, value: number | undefined): void {
    this.byte(value === undefined ? 0 : 1);
    if (value !== undefined) this.u64(field, value);
  }

  /** What was written so far, in bytes the writer never touches again (writing may go on, e.g. a checksum of it). */
  finish(): Uint8Array {
    // A full buffer is handed out as is: writing on would first grow into a new one.
    return this.#length === this.#buffer.length ? this.#buffer : this.#buffer.slice(0, this.#length);
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + count));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}

class Reader {
  #offset = 0;
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  byte(): number {
    this.#need(1);
    return this.bytes[this.#offset++] as number;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  u64(field: string): number {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#offset);
    this.#offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${field} ${value} is not a safe integer`);
    return Number(value);
  }

  string(field: string): string {
    const raw = this.#lengthPrefixed();
    try {
      return strictUtf8.decode(raw);
    } catch (error) {
      throw new DecodeError(`${field} is not valid UTF-8`, { cause: error });
    }
  }

  bytesField(): Uint8Array {
    // A copy (not a view, and never a Buffer) so decoded records do not alias the input.
    return new Uint8Array(this.#lengthPrefixed());
  }

  optionalString(field: string): string | undefined {
    return this.#present(field) ? this.string(field) : undefined;
  }

  optionalU64(field: string): number | undefined {
    return this.#present(field) ? this.u64(field) : undefined;
  }

  #present(field: string): boolean {
    const present = this.byte();
    if (present !== 0 && present !== 1) throw new DecodeError(`${field} has presence byte ${present}`);
    return present === 1;
  }

  end(): void {
    const left = this.bytes.length - this.#offset;
    if (left !== 0) throw new DecodeError(`${left} trailing byte(s) after the record`);
  }

  #lengthPrefixed(): Uint8Array {
    const length = this.u32();
    this.#need(length);
    const value = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  #need(count: number): void {
    if (this.bytes.length - this.#offset < count) throw new DecodeError('record is truncated');
  }
}

function encode(record: DurableRecord): Uint8Array {
  if (typeof record !== 'object' || record === null) throw new InvalidArgumentError('record', 'expected a record object');
  const tag = Object.hasOwn(TAGS, record.kind) ? TAGS[record.kind] : undefined;
  if (tag === undefined) throw new InvalidArgumentError('record.kind', `unknown kind ${JSON.stringify(record.kind)}`);
  // An actor record is the header, a length and its payload: sized exactly (one per durable actor input).
  const w = new Writer(record.kind === 'actorRecord' && record.payload instanceof Uint8Array ? HEADER_LENGTH + 4 + record.payload.length : undefined);
  w.byte(MAGIC);
  w.byte(CODEC_VERSION);
  w.byte(record.kind === 'messageReceived' && record.payload !== undefined ? RECEIPT_WITH_MESSAGE : tag);
  switch (record.kind) {
    case 'messageReceived':
      w.string('messageId', record.messageId);
      w.u64('receivedAt', record.receivedAt);
      if (record.payload !== undefined) w.bytes('payload', record.payload);
      break;
    case 'processingStarted':
    case 'processingFinished':
      w.string('messageId', record.messageId);
      break;
    case 'stepCompleted':
      w.string('messageId', record.messageId);
      w.u64('stepIndex', record.stepIndex);
      w.bytes('output', record.output);
      break;
    case 'errorOccurred':
      w.string('messageId', record.messageId);
      w.string('error', record.error);
      break;
    case 'conversationCreated':
      w.string('version', record.version);
      w.u64('createdAt', record.createdAt);
      w.optionalU64('deadline', record.deadline);
      break;
    case 'phaseChanged':
      w.byte(phaseByte(record.phase));
      w.u64('at', record.at);
      w.optionalString('failure', record.failure);
      w.optionalString('cause', record.cause);
      break;
    case 'participantExited':
      w.string('participant', record.participant);
      w.u64('exitedAt', record.exitedAt);
      break;
    case 'entryLogged':
      w.bytes('entry', record.entry);
      break;
    case 'conversationSnapshot':
      writeSnapshot(w, record);
      w.u32(crc32(w.finish()));
      break;
    case 'groupSnapshot':
      writeGroupSnapshot(w, record);
      w.u32(crc32(w.finish()));
      break;
    case 'dedupClaim':
      w.string('key', record.key);
      w.string('token', record.token);
      w.string('owner', record.owner);
      w.u64('timestampMs', record.timestampMs);
      w.u64('expiresAtMs', record.expiresAtMs);
      break;
    case 'dedupReceipt':
      w.string('key', record.key);
      w.optionalString('token', record.token);
      w.bytes('receipt', record.receipt);
      w.u64('timestampMs', record.timestampMs);
      break;
    case 'channelMessage':
      w.string('messageId', record.messageId);
      w.string('key', record.key);
      w.optionalString('causationId', record.causationId);
      w.optionalString('traceparent', record.traceparent);
      w.u64('publishedAt', record.publishedAt);
      w.bytes('payload', record.payload);
      break;
    case 'publishReceipt':
      w.string('messageId', record.messageId);
      w.u64('partition', record.partition);
      w.u64('sequence', record.sequence);
      break;
    case 'scheduledPublishReceipt':
      w.string('messageId', record.messageId);
      w.u64('partition', record.partition);
      w.u64('deliverAt', record.deliverAt);
      break;
    case 'conversationSummary':
      w.string('conversationId', record.conversationId);
      w.optionalString('version', record.version);
      w.optionalU64('createdAt', record.createdAt);
      w.byte(phaseByte(record.phase));
      w.optionalString('failure', record.failure);
      w.optionalString('cause', record.cause);
      break;
    case 'actorRecord':
      w.bytes('payload', record.payload);
      break;
    case 'memberJoined':
      w.string('memberId', record.memberId);
      break;
    case 'memberLeft': {
      w.u64('incarnation', record.incarnation);
      const reason = LEFT_REASONS.indexOf(record.reason);
      if (reason < 0) throw new InvalidArgumentError('reason', `expected 'left' or 'expired', got ${JSON.stringify(record.reason)}`);
      w.byte(reason);
      break;
    }
    case 'leaseReleased':
      w.u64('incarnation', record.incarnation);
      w.u64('partition', record.partition);
      break;
  }
  return w.finish();
}

function phaseByte(phase: string): number {
  const index = CONVERSATION_PHASES.indexOf(phase as never);
  if (index < 0) throw new InvalidArgumentError('phase', `unknown phase ${JSON.stringify(phase)}`);
  return index;
}

function readPhase(r: Reader) {
  const index = r.byte();
  const phase = CONVERSATION_PHASES[index];
  if (phase === undefined) throw new DecodeError(`unknown phase byte ${index}`);
  return phase;
}

function writeHeader(w: Writer, header: ConversationHeader): void {
  if (typeof header !== 'object' || header === null) throw new InvalidArgumentError('header', 'expected a ConversationHeader');
  w.optionalString('version', header.version);
  w.optionalU64('createdAt', header.createdAt);
  w.optionalU64('deadline', header.deadline);
  w.byte(phaseByte(header.phase));
  w.byte(header.failure === undefined ? 0 : 1);
  if (header.failure !== undefined) {
    w.string('failure.reason', header.failure.reason);
    w.optionalString('failure.cause', header.failure.cause);
  }
  w.u32(header.exits.size);
  for (const [participant, exitedAt] of header.exits) {
    w.string('participant', participant);
    w.u64('exitedAt', exitedAt);
  }
  w.u32(header.recentLog.length);
  for (const entry of header.recentLog) w.bytes('entry', entry);
  w.u64('loggedCount', header.loggedCount);
  w.u64('stepCount', header.stepCount);
}

function readHeader(r: Reader): ConversationHeader {
  const version = r.optionalString('version');
  const createdAt = r.optionalU64('createdAt');
  const deadline = r.optionalU64('deadline');
  const phase = readPhase(r);
  const failed = r.byte();
  if (failed !== 0 && failed !== 1) throw new DecodeError(`failure has presence byte ${failed}`);
  let failure: ConversationHeader['failure'];
  if (failed === 1) {
    const reason = r.string('failure.reason');
    const cause = r.optionalString('failure.cause');
    failure = { reason, ...(cause === undefined ? {} : { cause }) };
  }
  const exits = new Map<string, number>();
  for (let i = 0, count = r.u32(); i < count; i++) {
    const participant = r.string('participant');
    if (exits.has(participant)) throw new DecodeError(`snapshot lists participant ${JSON.stringify(participant)} twice`);
    exits.set(participant, r.u64('exitedAt'));
  }
  const recentLog: Uint8Array[] = [];
  for (let i = 0, count = r.u32(); i < count; i++) recentLog.push(r.bytesField());
  return { version, createdAt, deadline, phase, failure, exits, recentLog, loggedCount: r.u64('loggedCount'), stepCount: r.u64('stepCount') };
}

function writeSnapshot(w: Writer, snapshot: ConversationSnapshot): void {
  w.string('conversationId', snapshot.conversationId);
  w.u64('fromSeq', snapshot.fromSeq);
  w.u64('coversSeq', snapshot.coversSeq);
  if (snapshot.fromSeq > snapshot.coversSeq) throw new InvalidArgumentError('fromSeq', 'is past coversSeq');
  writeHeader(w, snapshot.header);
  // Checked as unknown: Array.isArray and instanceof Map would narrow the typed values to any.
  const messages: unknown = snapshot.messages;
  if (!Array.isArray(messages)) throw new InvalidArgumentError('messages', 'expected an array');
  w.u32(snapshot.messages.length);
  for (const message of snapshot.messages) {
    const steps: unknown = message?.steps;
    if (!(steps instanceof Map)) throw new InvalidArgumentError('messages[].steps', 'expected a Map of step outputs');
    w.string('messageId', message.messageId);
    const flags =
      (message.received ? FLAG_RECEIVED : 0) |
      (message.inProgress ? FLAG_IN_PROGRESS : 0) |
      (message.finished ? FLAG_FINISHED : 0) |
      (message.error !== undefined ? FLAG_ERRORED : 0) |
      (message.payload !== undefined ? FLAG_PAYLOAD : 0);
    w.byte(flags);
    if (message.error !== undefined) w.string('error', message.error);
    if (message.payload !== undefined) w.bytes('payload', message.payload);
    w.u32(message.steps.size);
    for (const [stepIndex, output] of message.steps) {
      w.u64('stepIndex', stepIndex);
      w.bytes('output', output);
    }
  }
}

function decode(bytes: Uint8Array): DurableRecord {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('expected a Uint8Array');
  if (bytes.length < HEADER_LENGTH) throw new DecodeError('record is truncated');
  const r = new Reader(bytes);
  const magic = r.byte();
  if (magic !== MAGIC) throw new DecodeError(`bad magic byte 0x${magic.toString(16)}`);
  const version = r.byte();
  if (version !== CODEC_VERSION) throw new DecodeError(`unsupported codec version ${version}`);
  const tag = r.byte();
  const kind = KINDS.get(tag);
  if (kind === undefined) throw new DecodeError(`unknown record tag 0x${tag.toString(16)}`);
  const record = readBody(r, kind, tag);
  r.end();
  return record;
}

function readBody(r: Reader, kind: DurableRecordKind, tag: number): DurableRecord {
  switch (kind) {
    case 'messageReceived': {
      const messageId = r.string('messageId');
      const receivedAt = r.u64('receivedAt');
      const payload = tag === RECEIPT_WITH_MESSAGE ? r.bytesField() : undefined;
      return { kind, messageId, receivedAt, ...(payload === undefined ? {} : { payload }) };
    }
    case 'processingStarted':
    case 'processingFinished':
      return { kind, messageId: r.string('messageId') };
    case 'stepCompleted':
      return { kind, messageId: r.string('messageId'), stepIndex: r.u64('stepIndex'), output: r.bytesField() };
    case 'errorOccurred':
      return { kind, messageId: r.string('messageId'), error: r.string('error') };
    case 'conversationCreated': {
      const version = r.string('version');
      const createdAt = r.u64('createdAt');
      const deadline = r.optionalU64('deadline');
      return { kind, version, createdAt, ...(deadline === undefined ? {} : { deadline }) };
    }
    case 'phaseChanged': {
      const phase = readPhase(r);
      const at = r.u64('at');
      const failure = r.optionalString('failure');
      const cause = r.optionalString('cause');
      return { kind, phase, at, ...(failure === undefined ? {} : { failure }), ...(cause === undefined ? {} : { cause }) };
    }
    case 'participantExited':
      return { kind, participant: r.string('participant'), exitedAt: r.u64('exitedAt') };
    case 'entryLogged':
      return { kind, entry: r.bytesField() };
    case 'conversationSnapshot':
      return readSnapshot(r);
    case 'dedupClaim':
      return { kind, key: r.string('key'), token: r.string('token'), owner: r.string('owner'), timestampMs: r.u64('timestampMs'), expiresAtMs: r.u64('expiresAtMs') };
    case 'dedupReceipt': {
      const key = r.string('key');
      const token = r.optionalString('token');
      return { kind, key, ...(token === undefined ? {} : { token }), receipt: r.bytesField(), timestampMs: r.u64('timestampMs') };
    }
    case 'channelMessage': {
      const messageId = r.string('messageId');
      const key = r.string('key');
      const causationId = r.optionalString('causationId');
      const traceparent = r.optionalString('traceparent');
      return {
        kind,
        messageId,
        key,
        ...(causationId === undefined ? {} : { causationId }),
        ...(traceparent === undefined ? {} : { traceparent }),
        publishedAt: r.u64('publishedAt'),
        payload: r.bytesField(),
      };
    }
    case 'publishReceipt':
      return { kind, messageId: r.string('messageId'), partition: r.u64('partition'), sequence: r.u64('sequence') };
    case 'scheduledPublishReceipt':
      return { kind, messageId: r.string('messageId'), partition: r.u64('partition'), deliverAt: r.u64('deliverAt') };
    case 'conversationSummary': {
      const conversationId = r.string('conversationId');
      const version = r.optionalString('version');
      const createdAt = r.optionalU64('createdAt');
      const phase = readPhase(r);
      const failure = r.optionalString('failure');
      const cause = r.optionalString('cause');
      return {
        kind,
        conversationId,
        ...(version === undefined ? {} : { version }),
        ...(createdAt === undefined ? {} : { createdAt }),
        phase,
        ...(failure === undefined ? {} : { failure }),
        ...(cause === undefined ? {} : { cause }),
      };
    }
    case 'actorRecord':
      return { kind, payload: r.bytesField() };
    case 'memberJoined':
      return { kind, memberId: r.string('memberId') };
    case 'memberLeft': {
      const incarnation = r.u64('incarnation');
      const byte = r.byte();
      const reason = LEFT_REASONS[byte];
      if (reason === undefined) throw new DecodeError(`unknown memberLeft reason ${byte}`);
      return { kind, incarnation, reason };
    }
    case 'leaseReleased':
      return { kind, incarnation: r.u64('incarnation'), partition: r.u64('partition') };
    case 'groupSnapshot':
      return readGroupSnapshot(r);
  }
}

/** Members then owners; an owner is an index into the members (u32, 0 for none), so it cannot name a non-member. */
function writeGroupSnapshot(w: Writer, snapshot: GroupSnapshot): void {
  w.u64('position', snapshot.position);
  // Checked as unknown: Array.isArray would narrow the typed values to any.
  const members: unknown = snapshot.members;
  const owners: unknown = snapshot.owners;
  if (!Array.isArray(members) || !Array.isArray(owners)) throw new InvalidArgumentError('groupSnapshot', 'expected arrays of members and owners');
  const index = new Map<number, number>();
  let previous = -1;
  w.u32(snapshot.members.length);
  for (const { incarnation, memberId } of snapshot.members) {
    if (incarnation <= previous) throw new InvalidArgumentError('members', 'must be ascending by incarnation, each once');
    if (incarnation >= snapshot.position) throw new InvalidArgumentError('members', `incarnation ${incarnation} is not before position ${snapshot.position}`);
    w.u64('incarnation', incarnation);
    w.string('memberId', memberId);
    index.set(incarnation, index.size + 1);
    previous = incarnation;
  }
  w.u32(snapshot.owners.length);
  for (const owner of snapshot.owners) {
    const at = owner === undefined ? 0 : index.get(owner);
    if (at === undefined) throw new InvalidArgumentError('owners', `owner ${owner} is not a member`);
    w.u32(at);
  }
}

function readGroupSnapshot(r: Reader): GroupSnapshot {
  verifyChecksum(r);
  const position = r.u64('position');
  const members: { incarnation: number; memberId: string }[] = [];
  for (let i = 0, count = r.u32(); i < count; i++) {
    const incarnation = r.u64('incarnation');
    const previous = members.at(-1)?.incarnation;
    if ((previous !== undefined && incarnation <= previous) || incarnation >= position) throw new DecodeError(`group snapshot lists incarnation ${incarnation} out of order`);
    members.push({ incarnation, memberId: r.string('memberId') });
  }
  const owners: (number | undefined)[] = [];
  for (let p = 0, count = r.u32(); p < count; p++) {
    const at = r.u32();
    if (at > members.length) throw new DecodeError(`group snapshot names owner ${at} of ${members.length} members`);
    owners.push(at === 0 ? undefined : members[at - 1]!.incarnation);
  }
  r.u32(); // the checksum, verified above
  return { kind: 'groupSnapshot', position, members, owners };
}

/** A snapshot ends with the CRC-32 of every byte before it. */
function verifyChecksum(r: Reader): void {
  const checked = r.bytes.subarray(0, r.bytes.length - 4);
  if (checked.length < HEADER_LENGTH) throw new DecodeError('record is truncated');
  const stored = new DataView(r.bytes.buffer, r.bytes.byteOffset + checked.length, 4).getUint32(0);
  if (crc32(checked) !== stored) throw new DecodeError('snapshot checksum does not match its bytes');
}

function readSnapshot(r: Reader): ConversationSnapshot {
  verifyChecksum(r);
  const conversationId = r.string('conversationId');
  const fromSeq = r.u64('fromSeq');
  const coversSeq = r.u64('coversSeq');
  if (fromSeq > coversSeq) throw new DecodeError(`snapshot starts at ${fromSeq}, past its end ${coversSeq}`);
  const header = readHeader(r);
  const count = r.u32();
  const messages: MessageProgress[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const messageId = r.string('messageId');
    if (seen.has(messageId)) throw new DecodeError(`snapshot lists message ${JSON.stringify(messageId)} twice`);
    seen.add(messageId);
    const flags = r.byte();
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new DecodeError(`unknown snapshot flags 0x${flags.toString(16)}`);
    const error = (flags & FLAG_ERRORED) !== 0 ? r.string('error') : undefined;
    const payload = (flags & FLAG_PAYLOAD) !== 0 ? r.bytesField() : undefined;
    const stepCount = r.u32();
    const steps = new Map<number, Uint8Array>();
    for (let s = 0; s < stepCount; s++) {
      const stepIndex = r.u64('stepIndex');
      if (steps.has(stepIndex)) throw new DecodeError(`snapshot lists step ${stepIndex} twice`);
      steps.set(stepIndex, r.bytesField());
    }
    messages.push({
      messageId,
      received: (flags & FLAG_RECEIVED) !== 0,
      inProgress: (flags & FLAG_IN_PROGRESS) !== 0,
      finished: (flags & FLAG_FINISHED) !== 0,
      ...(error === undefined ? {} : { error }),
      ...(payload === undefined ? {} : { payload }),
      steps,
    });
  }
  r.u32(); // the checksum, verified above
  return { kind: 'conversationSnapshot', conversationId, fromSeq, coversSeq, header, messages };
}

/** Decodes a record that must be of one of `kinds`; any other kind is a DecodeError. */
function decodeAs<K extends DurableRecordKind>(bytes: Uint8Array, ...kinds: K[]): RecordOf<K> {
  const record = decode(bytes);
  if (!(kinds as DurableRecordKind[]).includes(record.kind)) {
    throw new DecodeError(`expected a ${kinds.join(' or ')} record, found ${record.kind}`);
  }
  return record as RecordOf<K>;
}

/**
 * The versioned binary envelope of every stored record. `encode` validates
 * fields (InvalidArgumentError) so nothing unreadable is ever written;
 * `decode` rejects unknown versions, unknown tags, truncation and trailing
 * bytes with DecodeError.
 */
export const codec = { version: CODEC_VERSION, encode, decode, decodeAs } as const;
