import { createHash } from 'node:crypto';

/**
 * The NOTIFY side of the PostgreSQL `watch`: which channels a schema's store
 * uses and what their payloads say.
 *
 * A write sends ONE notice on `channels.lists` for everything it grew (a
 * commit, a group of commits, a batch of appends), a JSON array listing the
 * grown streams front-coded: each element is a name, or `[k, suffix]` for
 * the previous name's first `k` UTF-16 code units followed by `suffix` (a
 * batch commit's 64 dedup heads share most of their names, so they fit).
 * A list that would pass PostgreSQL's payload limit is sent as '' instead,
 * which tells listeners to wake every watcher (as after a reconnection).
 *
 * `channels.legacy` is where versions before the lists NOTIFYed one stream
 * name per payload ('' for a name too long to fit). Listeners still LISTEN
 * there, so a process of that version writing to the same schema during a
 * rolling deploy keeps waking this one's watchers.
 */

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const maxPayloadBytes = 7_999;

/** A name shares at least this many code units with the previous one before `[k, suffix]` is shorter. */
const minSharedPrefix = 8;

export interface ChangeChannels {
  /** One notice (a list) per write. */
  readonly lists: string;
  /** One name per notice, from older versions; listened to only. */
  readonly legacy: string;
}

/** The NOTIFY channels of one schema's store: short identifiers (channel names are at most 63 bytes). */
export function changeChannels(schema: string): ChangeChannels {
  const legacy = `liminal_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
  return { lists: `${legacy}_v2`, legacy };
}

/**
 * SQL that sends the notice of a write on `channel`, from inside its own
 * transaction (so it leaves at COMMIT and is dropped with a rollback).
 * `elements` is an SQL text expression: the notice's array elements, comma-separated.
 */
export function notifySql(channel: string, elements: string): string {
  return `pg_notify('${channel.replaceAll("'", "''")}', CASE WHEN octet_length(${elements}) > ${maxPayloadBytes - 2} THEN '' ELSE '[' || ${elements} || ']' END)`;
}

/** The notice elements (see `notifySql`) for `streams`, sorted and front-coded; undefined when there are none. */
export function noticeElements(streams: readonly string[]): string | undefined {
  if (streams.length === 0) return undefined;
  let previous = '';
  return [...new Set(streams)]
    .sort()
    .map((name) => {
      const shared = sharedPrefixLength(previous, name);
      previous = name;
      return JSON.stringify(shared >= minSharedPrefix ? [shared, name.slice(shared)] : name);
    })
    .join(',');
}

/**
 * The streams a notification names, or undefined when listeners must wake
 * every watcher: the overflow notice '', or a payload this version cannot
 * read (a later version's, say), since guessing could miss a wake-up.
 */
export function decodeNotification(channels: ChangeChannels, channel: string, payload: string | undefined): string[] | undefined {
  if (payload === undefined || payload === '') return undefined;
  if (channel === channels.legacy) return [payload];
  let elements: unknown;
  try {
    elements = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(elements)) return undefined;
  const names: string[] = [];
  let previous = '';
  for (const element of elements as unknown[]) {
    if (typeof element === 'string') previous = element;
    else if (isFrontCoded(element, previous.length)) previous = previous.slice(0, element[0]) + element[1];
    else return undefined;
    names.push(previous);
  }
  return names;
}

function isFrontCoded(element: unknown, previousLength: number): element is [number, string] {
  return (
    Array.isArray(element) &&
    element.length === 2 &&
    Number.isSafeInteger(element[0]) &&
    (element[0] as number) >= 0 &&
    (element[0] as number) <= previousLength &&
    typeof element[1] === 'string'
  );
}

function sharedPrefixLength(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let length = 0;
  while (length < max && a.charCodeAt(length) === b.charCodeAt(length)) length++;
  return length;
}
