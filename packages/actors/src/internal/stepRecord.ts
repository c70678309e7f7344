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
 * Logs written before this framing hold the codec bytes alone; those start
 * with any other byte (JSON starts with `{`) and read as plain steps.
 */
export type StepRecord =
  | { readonly kind: 'step'; readonly payload: Uint8Array }
  | { readonly kind: 'compensable'; readonly registration: RecordedRegistration; readonly payload: Uint8Array }
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

const tags = { step: 0x00, compensable: 0x01, final: 0x02 } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeStepRecord(record: StepRecord): Uint8Array {
  if (record.kind === 'step') return concat([Uint8Array.of(tags.step), record.payload]);
  if (record.kind === 'final') return concat([Uint8Array.of(tags.final), encoder.encode(JSON.stringify(record.final))]);
  const header = encoder.encode(JSON.stringify(record.registration));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, header.length);
  return concat([Uint8Array.of(tags.compensable), length, header, record.payload]);
}

export function decodeStepRecord(bytes: Uint8Array): StepRecord {
  const tag = bytes[0];
  if (tag === tags.step) return { kind: 'step', payload: bytes.subarray(1) };
  if (tag === tags.final) return { kind: 'final', final: decodeFinal(bytes.subarray(1)) };
  if (tag !== tags.compensable) return { kind: 'step', payload: bytes };
  if (bytes.length < 5) throw new DecodeError('compensable step record is truncated');
  const length = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0);
  if (bytes.length < 5 + length) throw new DecodeError('compensable step record header is truncated');
  let registration: unknown;
  try {
    registration = JSON.parse(decoder.decode(bytes.subarray(5, 5 + length)));
  } catch (error) {
    throw new DecodeError('compensable step record header is not UTF-8 JSON', { cause: error });
  }
  if (!isRegistration(registration)) throw new DecodeError('compensable step record header is malformed');
  return { kind: 'compensable', registration, payload: bytes.subarray(5 + length) };
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
  for (const part of parts) out.set(part, offset), (offset += part.length);
  return out;
}
