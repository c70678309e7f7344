import type { CommitOptions, CommitResult, WriteOp } from '@liminal/store';
import { ForwardingStore } from './ForwardingStore.js';

/**
 * Counts the bytes appended to snapshot streams (`snapshot/…`) and to every
 * other stream, by `append` or inside a `commit` (a snapshot chain restart is
 * one): what measures a conversation's write volume as it ages.
 */
export class ByteCountingStore extends ForwardingStore {
  eventBytes = 0;
  snapshotBytes = 0;

  #count(stream: string, payload: Uint8Array): void {
    if (stream.startsWith('snapshot/')) this.snapshotBytes += payload.length;
    else this.eventBytes += payload.length;
  }

  override async append(stream: string, payload: Uint8Array, expectedSeq: number): Promise<number> {
    this.#count(stream, payload);
    return super.append(stream, payload, expectedSeq);
  }

  override async commit(ops: readonly WriteOp[], options?: CommitOptions): Promise<CommitResult> {
    const result = await super.commit(ops, options);
    for (const op of ops) if (op.op === 'append') for (const payload of op.payloads) this.#count(op.stream, payload);
    return result;
  }
}
