import { createHash } from 'node:crypto';

/** A NOTIFY payload is at most 7999 bytes; a longer name is sent as '' (listeners then resynchronise). */
const maxNamePayloadBytes = 7_999;

/** The NOTIFY channel of one schema's store: a short identifier (channel names are at most 63 bytes). */
export function changeChannel(schema: string): string {
  return `liminal_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

/**
 * SQL that NOTIFYs `channel` of the grown stream `stream` (an SQL expression)
 * inside the writing statement's own transaction: the notification is sent
 * at its COMMIT and dropped with its rollback (a rolled-back block of a
 * group commit included), costs no statement of its own, and PostgreSQL
 * folds a transaction's duplicates into one.
 */
export function notifyGrown(channel: string, stream: string): string {
  return `pg_notify('${channel.replaceAll("'", "''")}', CASE WHEN octet_length(${stream}) > ${maxNamePayloadBytes} THEN '' ELSE ${stream} END)`;
}
