import { DecodeError } from '@liminal/store';

/** What a durable channel stores as the payload of each `DurableChannel` message. */
export interface DurableMessage {
  /** The id subscribers saw and `causationId`s name (the envelope's own `messageId` is the log's). */
  readonly messageId: string;
  readonly message: unknown;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeDurableMessage(record: DurableMessage): Uint8Array {
  return utf8Encoder.encode(JSON.stringify({ messageId: record.messageId, message: record.message }));
}

/**
 * Reads the payload of an envelope from `DurableChannel.consume` on a durable
 * channel's stream, e.g. to replay it; malformed bytes → `DecodeError`.
 */
export function decodeDurableMessage(payload: Uint8Array): DurableMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Decoder.decode(payload));
  } catch (cause) {
    throw new DecodeError(`not a durable channel message: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { messageId?: unknown }).messageId !== 'string' || !('message' in parsed)) {
    throw new DecodeError('not a durable channel message: expected {messageId, message}');
  }
  return parsed as DurableMessage;
}
