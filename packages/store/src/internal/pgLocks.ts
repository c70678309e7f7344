/**
 * The advisory lock standing for "counter $key is absent": a row lock cannot
 * be taken on a row that does not exist. Two keys may share a lock (64-bit
 * hash); that only makes one wait for the other.
 */
export function absentKeyLock(key: string): string {
  return `hashtextextended('liminal-counter:' || ${key}, 0)`;
}

/**
 * The advisory lock standing for "stream $stream is empty": a condition on an
 * empty stream has no entry to lock, so it holds this one shared until COMMIT,
 * and every write of a stream's first entry (sequence 0) takes it exclusively
 * first. Without it, a commit that found a stream empty could commit after
 * another had written that stream's first entry and read something the first
 * commit writes: write skew (two processes both committed 11 of 500 such pairs).
 */
export function emptyStreamLock(stream: string): string {
  return `hashtextextended('liminal-stream:' || ${stream}, 0)`;
}

/** True once this transaction holds the empty-stream lock of `stream` exclusively (see `emptyStreamLock`). */
export function firstEntryFenced(stream: string): string {
  return `(SELECT true FROM (SELECT pg_advisory_xact_lock(${emptyStreamLock(stream)})) AS fenced)`;
}
