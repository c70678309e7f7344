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

export interface CommitResult {
  /** `firstSeqs[i]` is the first sequence op `i` wrote when it is an append, `undefined` otherwise. */
  readonly firstSeqs: readonly (number | undefined)[];
}
