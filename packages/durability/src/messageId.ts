import { createHash } from 'node:crypto';
import { assertName } from '@liminal/store';
import { nanoid } from 'nanoid';
import { storeKey } from './storeKey.js';

/**
 * The one message-id scheme of the repo: 21 URL-safe characters (126 bits),
 * random for an ordinary message, derived from the idempotency key for an
 * idempotent one. Durable channels, ephemeral channels and conversations all
 * mint ids here, so an id looks the same wherever it is logged, stored or
 * named as a `causationId`.
 */
export function newMessageId(): string {
  return nanoid();
}

/**
 * The id of the message published under `idempotencyKey` in `scope` (a
 * channel name): the same in every process, every time, so a retried publish
 * names the message the first attempt stored. A SHA-256 of the escaped
 * `storeKey(scope, idempotencyKey)`, base64url, cut to the random ids' length.
 */
export function messageIdFor(scope: string, idempotencyKey: string): string {
  assertName('idempotencyKey', idempotencyKey);
  return createHash('sha256').update(storeKey(scope, idempotencyKey)).digest('base64url').slice(0, 21);
}
