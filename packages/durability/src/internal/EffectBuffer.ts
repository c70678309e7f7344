import { assertName, assertNonNegativeSafeInteger, assertPayload, type WriteOp } from '@liminal/store';
import type { EffectTx } from '../EffectTx.js';
import { EffectTxClosedError } from '../errors.js';
import { assertNotStoreKeyOfTag } from '../storeKey.js';

type Effect =
  | { readonly kind: 'append'; readonly stream: string; readonly payload: Uint8Array }
  | { readonly kind: 'cas'; readonly key: string; readonly expected: number; readonly next: number };

/** The store ops of a handler's effects, and which effect each op came from (for error reports). */
export interface EffectOps {
  readonly ops: WriteOp[];
  /** `effectIndex[i]` is the position (in queue order) of the first effect behind `ops[i]`. */
  readonly effectIndex: number[];
  /** Streams appended to, with the length each append expects and how many entries it adds. */
  readonly appends: { readonly stream: string; readonly expectedSeq: number; readonly count: number }[];
}

/** The `EffectTx` given to one handler call: validates and queues, and refuses anything once closed. */
export class EffectBuffer implements EffectTx {
  readonly #effects: Effect[] = [];
  #closed = false;

  constructor(
    readonly idempotencyKey: string,
    readonly conditions: readonly WriteOp[],
  ) {}

  append(stream: string, payload: Uint8Array): void {
    this.#assertOpen();
    assertName('stream', stream);
    assertNotStoreKeyOfTag('stream', stream); // Liminal's own streams (fences, receipts, partitions) are not effects
    assertPayload('payload', payload);
    this.#effects.push({ kind: 'append', stream, payload });
  }

  cas(key: string, expected: number, next: number): void {
    this.#assertOpen();
    assertName('key', key);
    assertNotStoreKeyOfTag('key', key);
    assertNonNegativeSafeInteger('expected', expected);
    assertNonNegativeSafeInteger('next', next);
    this.#effects.push({ kind: 'cas', key, expected, next });
  }

  /** No more effects: the handler returned or threw. */
  close(): void {
    this.#closed = true;
  }

  /** Streams this buffer appends to (their lengths are needed to build the ops). */
  streams(): Set<string> {
    return new Set(this.#effects.flatMap((effect) => (effect.kind === 'append' ? [effect.stream] : [])));
  }

  /**
   * The ops in queue order, except that every append to one stream joins the
   * op of that stream's first append (at the stream's known length). Appends
   * to different streams and cas ops commute, so grouping changes only the op
   * count.
   */
  ops(lengthOf: (stream: string) => number): EffectOps {
    const ops: WriteOp[] = [];
    const effectIndex: number[] = [];
    const byStream = new Map<string, Uint8Array[]>();
    this.#effects.forEach((effect, index) => {
      if (effect.kind === 'cas') {
        ops.push({ op: 'cas', key: effect.key, expected: effect.expected, next: effect.next });
        effectIndex.push(index);
        return;
      }
      const payloads = byStream.get(effect.stream);
      if (payloads !== undefined) {
        payloads.push(effect.payload);
        return;
      }
      const fresh = [effect.payload];
      byStream.set(effect.stream, fresh);
      ops.push({ op: 'append', stream: effect.stream, payloads: fresh, expectedSeq: lengthOf(effect.stream) });
      effectIndex.push(index);
    });
    const appends = ops.flatMap((op) => (op.op === 'append' ? [{ stream: op.stream, expectedSeq: op.expectedSeq, count: op.payloads.length }] : []));
    return { ops, effectIndex, appends };
  }

  #assertOpen(): void {
    if (this.#closed) throw new EffectTxClosedError(this.idempotencyKey);
  }
}
