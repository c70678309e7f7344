import { CommitConflictError, DecodeError, readBatches, SequenceConflictError, type DurableStore } from '@liminal/store';
import { codec, type GroupRecord } from '../codec.js';
import type { GroupKeys } from './groupKeys.js';
import type { GroupView } from './GroupView.js';

const LOG_BATCH = 1024;

/**
 * A worker group's membership log as streams of epochs, so that it stays
 * short however long the group lives. Epoch `n`'s stream (`keys.logStream(n)`)
 * holds, from epoch 1 on, a `groupSnapshot` of everything before it, then
 * the records appended since; the counter `keys.logEpoch` names the current
 * epoch. A compaction is one commit: the epoch counter moves `n → n+1`,
 * epoch `n`'s stream is deleted if it still has exactly the length the
 * snapshot covers, and epoch `n+1` starts with the snapshot.
 *
 * Why no record is lost: every append is a commit that also checks the
 * epoch counter, so it lands in the current epoch or not at all, and a
 * compaction that raced with it fails on the length of the stream it
 * deletes. Why readers never misread: a stream name is never reused (epochs
 * only grow), so a reader that read an old epoch number reads a consistent
 * prefix of that epoch (or nothing, once deleted) and finds the new epoch at
 * its next catch-up, which the snapshot's append wakes it for (one `watch`
 * prefix, `keys.log`, covers every epoch). Positions (and so incarnations)
 * count records across epochs: the snapshot carries the position it ends at.
 */
export class MembershipLog {
  /** The epoch this log's view has read into. */
  #epoch = 0;
  /** Position of the record at sequence 0 of the current epoch's stream (for epoch > 0, the snapshot's position - 1). */
  #shift = 0;
  /** Whether the current epoch's stream was read from its start (its snapshot applied); epoch 0 has none to read. */
  #started = true;

  constructor(
    readonly store: DurableStore,
    readonly keys: GroupKeys,
    readonly view: GroupView,
  ) {}

  /** The epoch read into the view: compactions so far, as this reader knows them. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Records of the current epoch's stream this view has read: what a member joining now replays. */
  get length(): number {
    return this.#started ? this.view.position - this.#shift : 0;
  }

  /** Reads the current epoch and applies every record the view has not seen. */
  async catchUp(): Promise<void> {
    const epoch = (await this.store.readValue(this.keys.logEpoch)) ?? 0;
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#started = false;
    }
    const stream = this.keys.logStream(epoch);
    for await (const batch of readBatches(this.store, stream, this.length, LOG_BATCH)) {
      for (const entry of batch) {
        const record = codec.decodeAs(entry.payload, 'memberJoined', 'memberLeft', 'leaseReleased', 'groupSnapshot');
        if (record.kind === 'groupSnapshot') {
          if (entry.sequence !== 0 || epoch === 0) throw new DecodeError(`${stream}: a group snapshot at sequence ${entry.sequence}`);
          if (record.position < this.view.position) throw new DecodeError(`${stream}: a group snapshot at position ${record.position}, behind ${this.view.position}`);
          this.view.restore(record);
          this.#shift = record.position - 1;
          this.#started = true;
        } else {
          if (!this.#started) throw new DecodeError(`${stream}: epoch ${epoch} does not start with a group snapshot`);
          this.view.apply(entry.sequence + this.#shift, record);
        }
      }
    }
  }

  /** Appends `record` at the end of the current epoch, whoever else appends or compacts meanwhile; returns its position. */
  async append(record: Exclude<GroupRecord, { kind: 'groupSnapshot' }>): Promise<number> {
    const bytes = codec.encode(record);
    let expected = this.length;
    for (;;) {
      if (!this.#started) {
        await this.catchUp();
        expected = this.length;
        continue;
      }
      try {
        const { firstSeqs } = await this.store.commit([
          { op: 'check', key: this.keys.logEpoch, equals: this.#epoch },
          { op: 'append', stream: this.keys.logStream(this.#epoch), payloads: [bytes], expectedSeq: expected },
        ]);
        return firstSeqs[1]! + this.#shift;
      } catch (error) {
        if (!(error instanceof CommitConflictError)) throw error;
        if (error.cause instanceof SequenceConflictError) {
          expected = error.cause.actual;
        } else {
          // Compacted since this view last looked: append to the new epoch instead.
          await this.catchUp();
          expected = this.length;
        }
      }
    }
  }

  /**
   * Starts a new epoch from the view's state, if nothing was appended since
   * the view caught up and nobody compacted first; false when either
   * happened (nothing written: the caller may try again after catching up).
   */
  async compact(): Promise<boolean> {
    if (!this.#started) return false;
    const next = this.#epoch + 1;
    try {
      await this.store.commit([
        { op: 'cas', key: this.keys.logEpoch, expected: this.#epoch, next },
        { op: 'deleteStream', stream: this.keys.logStream(this.#epoch), expectedLength: this.length },
        { op: 'append', stream: this.keys.logStream(next), payloads: [codec.encode(this.view.snapshot())], expectedSeq: 0 },
      ]);
    } catch (error) {
      if (error instanceof CommitConflictError) return false;
      throw error;
    }
    this.#epoch = next;
    this.#shift = this.view.position - 1;
    return true;
  }
}
