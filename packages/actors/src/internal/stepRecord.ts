import { DecodeError } from '@liminal/store';

/**
 * What `DurableSteps` stores as a `stepCompleted` output. The first byte says
 * which record it is, so a step that registered a compensation carries the
 * registration in the same append (a crash cannot separate the two), and a
 * message's final record is told apart from its steps.
 *
 * The final record (written by `finish` right before `processingFinished`)
 * holds the reply and the message's compensations again: the durable log
 * keeps only the last step output of a finished message, so that is where
 * they survive.
 *
 * Every step record carries the step's name (a compensable one in its
 * registration), which a replay compares with the name the handler asks
 * for at that position: identity by name, not by position alone. A timer is a
 * step whose payload is its wake-up time. A step run by this version also
 * carries how long it ran (`durationMs`, by the steps' clock: tags 0x14 and
 * 0x15 put it as a float64 right after the tag of 0x10 / 0x11); records
 * without it (earlier versions) still read. Any other first byte (including
 * 0x00-0x02, the unnamed records of earlier versions) is a DecodeError.
 */
export type StepRecord =
  | { readonly kind: 'step'; readonly name: string; readonly payload: Uint8Array; readonly durationMs?: number }
  | { readonly kind: 'timer'; readonly name: string; readonly wakeAt: number }
  | { readonly kind: 'compensable'; readonly registration: RecordedRegistration; readonly payload: Uint8Array; readonly durationMs?: number }
  | { readonly kind: 'final'; readonly final: FinalRecord };

export interface FinalRecord {
  /** Absent: the turn gave no reply. */
  readonly reply?: { readonly value: unknown };
  readonly compensations: readonly RecordedCompensation[];
}

/** A registration with the step it undoes, as the final record keeps it. */
export interface RecordedCompensation extends RecordedRegistration {
  readonly stepIndex: number;
  readonly output: unknown;
}

/** A compensation as the log records it: found again by name, ordered by the log position it was written at. */
export interface RecordedRegistration {
  readonly compensation: string;
  readonly participant: string;
  readonly step: string;
  readonly order: number;
}

const tags = { step: 0x10, compensable: 0x11, final: 0x12, timer: 0x13, timedStep: 0x14, timedCompensable: 0x15 } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The name a replayed step must be asked for under (`undefined`: a final record, which no step may be). */
export function recordedName(record: StepRecord): string | undefined {
  switch (record.kind) {
    case 'step':
    case 'timer':
      return record.name;
    case 'compensable':
      return record.registration.step;
    case 'final':
      return undefined;
  }
}

export function encodeStepRecord(record: StepRecord): Uint8Array {
  switch (record.kind) {
    case 'step':
      return concat([...tagged(tags.step, tags.timedStep, record.durationMs), lengthPrefixed(encoder.encode(record.name)), record.payload]);
    case 'timer':
      return concat([Uint8Array.of(tags.timer), lengthPrefixed(encoder.encode(record.name)), encoder.encode(String(record.wakeAt))]);
    case 'final':
      return concat([Uint8Array.of(tags.final), encoder.encode(JSON.stringify(record.final))]);
    case 'compensable':
      return concat([...tagged(tags.compensable, tags.timedCompensable, record.durationMs), lengthPrefixed(encoder.encode(JSON.stringify(record.registration))), record.payload]);
  }
}

/** The tag, or the timed tag followed by the duration. */
function tagged(plain: number, timed: number, durationMs: number | undefined): Uint8Array[] {
  if (durationMs === undefined) return [Uint8Array.of(plain)];
  const duration = new Uint8Array(8);
  new DataView(duration.buffer).setFloat64(0, durationMs);
  return [Uint8Array.of(timed), duration];
}

export function decodeStepRecord(bytes: Uint8Array): StepRecord {
  const tag = bytes[0];
  if (tag === tags.timedStep || tag === tags.timedCompensable) {
    if (bytes.length < 9) throw new DecodeError('timed step record is truncated');
    const durationMs = new DataView(bytes.buffer, bytes.byteOffset + 1, 8).getFloat64(0);
    if (!Number.isFinite(durationMs) || durationMs < 0) throw new DecodeError('timed step record has no valid duration');
    // The rest is the untimed record: its tag, then the same layout.
    const rest = bytes.slice(8);
    rest[0] = tag === tags.timedStep ? tags.step : tags.compensable;
    return { ...decodeStepRecord(rest), durationMs } as StepRecord;
  }
  switch (tag) {
    case tags.final:
      return { kind: 'final', final: decodeFinal(bytes.subarray(1)) };
    case tags.step: {
      const [name, payload] = splitPrefixed(bytes, 'step');
      return { kind: 'step', name: utf8(name, 'step name'), payload };
    }
    case tags.timer: {
      const [name, payload] = splitPrefixed(bytes, 'timer');
      const wakeAt = Number(utf8(payload, 'timer wake-up time'));
      if (!Number.isSafeInteger(wakeAt) || wakeAt < 0) throw new DecodeError('timer record has no valid wake-up time');
      return { kind: 'timer', name: utf8(name, 'timer name'), wakeAt };
    }
    case tags.compensable: {
      const [header, payload] = splitPrefixed(bytes, 'compensable step');
      let registration: unknown;
      try {
        registration = JSON.parse(decoder.decode(header));
      } catch (error) {
        throw new DecodeError('compensable step record header is not UTF-8 JSON', { cause: error });
      }
      if (!isRegistration(registration)) throw new DecodeError('compensable step record header is malformed');
      return { kind: 'compensable', registration, payload };
    }
    default:
      throw new DecodeError(
        tag === undefined ? 'step record is empty' : `unknown step record tag 0x${tag.toString(16).padStart(2, '0')} (records without step names are not read)`,
      );
  }
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Splits `tag, u32 length, field, rest` into the field and the rest. */
function splitPrefixed(bytes: Uint8Array, what: string): [Uint8Array, Uint8Array] {
  if (bytes.length < 5) throw new DecodeError(`${what} record is truncated`);
  const length = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0);
  if (bytes.length < 5 + length) throw new DecodeError(`${what} record header is truncated`);
  return [bytes.subarray(5, 5 + length), bytes.subarray(5 + length)];
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new DecodeError(`${what} is not UTF-8`, { cause: error });
  }
}

function decodeFinal(bytes: Uint8Array): FinalRecord {
  let final: unknown;
  try {
    final = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new DecodeError('final step record is not UTF-8 JSON', { cause: error });
  }
  const compensations = (final as { compensations?: unknown } | null)?.compensations;
  if (!Array.isArray(compensations) || !compensations.every((entry) => isRegistration(entry) && Number.isSafeInteger((entry as { stepIndex?: unknown }).stepIndex))) {
    throw new DecodeError('final step record is malformed');
  }
  return final as FinalRecord;
}

function isRegistration(value: unknown): value is RecordedRegistration {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['compensation'] === 'string' &&
    typeof record['participant'] === 'string' &&
    typeof record['step'] === 'string' &&
    Number.isSafeInteger(record['order'])
  );
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
