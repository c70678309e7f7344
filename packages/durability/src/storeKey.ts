import { InvalidArgumentError } from '@liminal/store';

/** What a part of a store key may be: text, or a non-negative safe integer (a partition). */
export type StoreKeyPart = string | number;

const SEPARATOR = '/';
const ESCAPES = /[%/]/g;

/**
 * One store name (stream or counter key) built from several parts so that no
 * other list of parts builds the same name: in each part `%` becomes `%25`
 * and `/` becomes `%2F`, then the parts are joined with `/`. A naive join is
 * ambiguous (consumer `billing:v2` on channel `orders` and consumer `billing`
 * on channel `v2:orders` shared one cursor); after escaping, every `/` in the
 * name is a separator, so the parts can be read back exactly.
 *
 * Every composite name this package writes starts with a fixed tag part
 * (`partition`, `cursor`, `dedup`, `claim`, `snapshot`, and `actor` for
 * @liminal/actors), so names of
 * different kinds never meet either. Because a part never contains a bare
 * `/`, `storeKey(...parts) + '/'` is a prefix shared by exactly the names
 * that extend `parts`, which makes listing one namespace exact.
 */
export function storeKey(...parts: readonly StoreKeyPart[]): string {
  if (parts.length === 0) throw new InvalidArgumentError('parts', 'a store key needs at least one part');
  return parts.map((part, index) => escapePart(part, index)).join(SEPARATOR);
}

/** The tag (first part) of every composite name this package writes. */
/** `actor` names the journal and snapshot streams of @liminal/actors' durable actors; `group` a worker group's log and counters. */
/** `conversation` and `conversationPhase` hold the conversation index (ConversationIndex.ts); `scheduled` a channel's scheduled messages. */
export type StoreKeyTag = 'partition' | 'cursor' | 'dedup' | 'claim' | 'snapshot' | 'actor' | 'group' | 'conversation' | 'conversationPhase' | 'scheduled';
const TAGS: readonly StoreKeyTag[] = ['partition', 'cursor', 'dedup', 'claim', 'snapshot', 'actor', 'group', 'conversation', 'conversationPhase', 'scheduled'];

/**
 * Rejects a caller-chosen name used as a stream name on its own (a
 * conversation id) that starts like one of this package's composite names.
 */
export function assertNotStoreKeyOfTag(argument: string, name: string): void {
  const tag = TAGS.find((candidate) => name.startsWith(candidate + SEPARATOR));
  if (tag !== undefined) throw new InvalidArgumentError(argument, `must not start with ${JSON.stringify(tag + SEPARATOR)} (reserved for Liminal's own streams)`);
}

/** The prefix of every key that extends `parts` with more parts (for `listStreams`). */
export function storeKeyPrefix(...parts: readonly StoreKeyPart[]): string {
  return storeKey(...parts) + SEPARATOR;
}

function escapePart(part: StoreKeyPart, index: number): string {
  if (typeof part === 'number') {
    if (!Number.isSafeInteger(part) || part < 0) {
      throw new InvalidArgumentError(`parts[${index}]`, `expected a non-negative safe integer, got ${part}`);
    }
    return String(part);
  }
  if (typeof part !== 'string' || part.length === 0) {
    throw new InvalidArgumentError(`parts[${index}]`, `expected a non-empty string, got ${JSON.stringify(part)}`);
  }
  // Most parts (hashes, tags, ids) need no escape: skip the regex pass, which costs more than the scan.
  if (!part.includes('%') && !part.includes('/')) return part;
  return part.replace(ESCAPES, (char) => (char === '%' ? '%25' : '%2F'));
}

/** Reads back one part written by `storeKey` (the inverse of its escaping). */
export function parseStoreKeyPart(escaped: string): string {
  return escaped.replace(/%2F|%25/g, (escape) => (escape === '%2F' ? '/' : '%'));
}
