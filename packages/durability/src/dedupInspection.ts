import { assertName, assertPositiveSafeInteger, type DurableStore } from '@liminal/store';
import { headStream, inFlightClaim, readHead } from './internal/dedupEntry.js';
import { storeKeyPrefix } from './storeKey.js';

/** The state of one idempotency key of a dedup namespace, as a tool shows it. */
export type DedupKeyState =
  /** In flight: `owner` holds it until `expiresAtMs` (then it may be taken over or released). */
  | {
      readonly state: 'claimed';
      readonly key: string;
      readonly stream: string;
      readonly owner: string;
      readonly token: string;
      readonly claimedAtMs: number;
      readonly expiresAtMs: number;
    }
  | { readonly state: 'completed'; readonly key: string; readonly stream: string; readonly completedAtMs: number };

export interface DedupKeyPage {
  readonly entries: readonly DedupKeyState[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

const HASH_PART = /^[0-9a-f]{16}$/;

/**
 * The keys of the `DedupCache` namespace `namespace`, a page of up to `limit`
 * entry streams at a time in stream-name order (`after`: the `next` of the
 * previous page), each read once. Writes nothing.
 */
export async function listDedupKeys(
  store: DurableStore,
  namespace: string,
  options: { readonly after?: string; readonly limit?: number } = {},
): Promise<DedupKeyPage> {
  assertName('namespace', namespace);
  const limit = options.limit ?? 100;
  assertPositiveSafeInteger('limit', limit);
  const prefix = storeKeyPrefix('dedup', namespace);
  const names = await store.listStreams(prefix, options.after === undefined ? { limit } : { after: options.after, limit });
  const entries: DedupKeyState[] = [];
  for (const stream of names) {
    if (!HASH_PART.test(stream.slice(prefix.length))) continue;
    const entry = await readKeyState(store, stream);
    if (entry !== undefined) entries.push(entry);
  }
  return { entries, ...(names.length === limit ? { next: names.at(-1)! } : {}) };
}

/** The state of `key` in the dedup namespace `namespace`, or `undefined` when it is absent (never claimed, released or swept). */
export async function readDedupKey(store: DurableStore, namespace: string, key: string): Promise<DedupKeyState | undefined> {
  assertName('namespace', namespace);
  assertName('key', key);
  const entry = await readKeyState(store, headStream(namespace, key));
  return entry?.key === key ? entry : undefined;
}

async function readKeyState(store: DurableStore, stream: string): Promise<DedupKeyState | undefined> {
  const records = await readHead(store, stream);
  const claim = inFlightClaim(records);
  const latest = records.at(-1);
  if (claim !== undefined) {
    return { state: 'claimed', key: claim.key, stream, owner: claim.owner, token: claim.token, claimedAtMs: claim.timestampMs, expiresAtMs: claim.expiresAtMs };
  }
  return latest?.kind === 'dedupReceipt' ? { state: 'completed', key: latest.key, stream, completedAtMs: latest.timestampMs } : undefined;
}
