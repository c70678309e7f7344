/** Appends `payloads` to `stream` if its length is `expectedSeq` (an empty list only checks the length). */
export interface AppendOp {
  readonly op: 'append';
  readonly stream: string;
  readonly payloads: readonly Uint8Array[];
  readonly expectedSeq: number;
}

/** Sets counter `key` to `next` if it holds `expected` (absent = 0). */
export interface CasOp {
  readonly op: 'cas';
  readonly key: string;
  readonly expected: number;
  readonly next: number;
}

/** Writes nothing; holds only if counter `key` equals `equals` (absent = 0). Used for fencing. */
export interface CheckOp {
  readonly op: 'check';
  readonly key: string;
  readonly equals: number;
}

/** Removes every entry of `stream` if its length is exactly `expectedLength`. */
export interface DeleteStreamOp {
  readonly op: 'deleteStream';
  readonly stream: string;
  readonly expectedLength: number;
}

/** One write of a `commit`; a commit applies its ops in order, all or none. */
export type WriteOp = AppendOp | CasOp | CheckOp | DeleteStreamOp;

/**
 * How long a commit must last once acknowledged:
 * - `full` (default): as long as the store's own setting promises (e.g.
 *   SQLite `synchronous = FULL`: through a power loss).
 * - `clientLifetime`: only as long as some process using the store lives. A
 *   store may then skip the flush of a commit that no crash can lose without
 *   also ending every one of its clients: SQLite's clients share its host
 *   (WAL mode needs one host), so it writes the commit without fsyncing it,
 *   which survives any process crash and is lost, with every later
 *   unflushed commit and never out of order, only when the host goes down;
 *   PostgreSQL's clients outlive a server crash, so it flushes as usual. For
 *   state that is worthless once its writers are gone (a claim of work in
 *   progress), never for a result.
 */
export type CommitDurability = 'full' | 'clientLifetime';

export interface CommitOptions {
  readonly durability?: CommitDurability;
}

export interface CommitResult {
  /** `firstSeqs[i]` is the first sequence op `i` wrote when it is an append, `undefined` otherwise. */
  readonly firstSeqs: readonly (number | undefined)[];
}
