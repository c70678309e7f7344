import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommitConflictError, type DurableStore, LiminalError, type WriteOp } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';

/**
 * Random command sequences run against each adapter and against a model that
 * is obviously right (arrays in a Map); every result, including every error
 * and its fields, must be the same.
 */

// Few names, chosen so prefixes overlap and code point order differs from UTF-16 order.
const streams = ['a', 'a%', 'a_b', 'é', '\u{ff5e}', '😀'] as const;
const keys = ['k1', 'k2'] as const;

type Command =
  | { kind: 'append'; stream: string; payload: Uint8Array; seqDelta: number }
  | { kind: 'appendMany'; stream: string; payloads: Uint8Array[]; seqDelta: number }
  | { kind: 'readFrom'; stream: string; fromSeq: number; limit: number }
  | { kind: 'streamLength'; stream: string }
  | { kind: 'listStreams'; prefix: string; after: string | undefined; limit: number | undefined }
  | { kind: 'deleteStream'; stream: string }
  | { kind: 'readValue'; key: string }
  | { kind: 'cas'; key: string; expectedDelta: number; next: number }
  | { kind: 'commit'; ops: OpSpec[] };

/** A commit op whose expectation is drawn relative to the state the ops before it leave (see `resolveOps`). */
type OpSpec =
  | { op: 'append'; stream: string; payloads: Uint8Array[]; delta: number }
  | { op: 'cas'; key: string; delta: number; next: number }
  | { op: 'check'; key: string; delta: number }
  | { op: 'deleteStream'; stream: string; delta: number };

const stream = fc.constantFrom(...streams);
const key = fc.constantFrom(...keys);
const payload = fc.uint8Array({ maxLength: 6 });
// Mostly the right expectation, sometimes stale or ahead, so both outcomes are common.
const delta = fc.constantFrom(0, 0, 0, -1, 1);

const opSpec: fc.Arbitrary<OpSpec> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('append'), stream, payloads: fc.array(payload, { maxLength: 2 }), delta }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('cas'), key, delta, next: fc.nat(5) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('check'), key, delta }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('deleteStream'), stream, delta }), weight: 1 },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('commit'), ops: fc.array(opSpec, { minLength: 1, maxLength: 5 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('append'), stream, payload, seqDelta: delta }), weight: 4 },
  {
    arbitrary: fc.record({ kind: fc.constant('appendMany'), stream, payloads: fc.array(payload, { maxLength: 3 }), seqDelta: delta }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('readFrom'), stream, fromSeq: fc.nat(6), limit: fc.integer({ min: 1, max: 4 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('streamLength'), stream }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('listStreams'),
      prefix: fc.constantFrom('', '', 'a', 'a%', 'a_', '😀'),
      // Half the listings are unbounded, so order and paging errors near the end of the list show up too.
      after: fc.option(fc.constantFrom(...streams, 'a0', '\u{e000}'), { nil: undefined, freq: 2 }),
      limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 2 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('deleteStream'), stream }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('readValue'), key }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('cas'), key, expectedDelta: delta, next: fc.nat(5) }),
    weight: 2,
  },
);

/** The obviously-correct store. */
class Model {
  readonly streams = new Map<string, Uint8Array[]>();
  readonly counters = new Map<string, number>();

  length(name: string): number {
    return this.streams.get(name)?.length ?? 0;
  }

  append(name: string, payloads: Uint8Array[], expectedSeq: number): number {
    const actual = this.length(name);
    if (actual !== expectedSeq) throw new ModelRejection({ code: 'SEQUENCE_CONFLICT', stream: name, expected: expectedSeq, actual });
    if (payloads.length > 0) this.streams.set(name, [...(this.streams.get(name) ?? []), ...payloads]);
    return expectedSeq;
  }

  readFrom(name: string, fromSeq: number, limit: number) {
    return (this.streams.get(name) ?? [])
      .map((payload, sequence) => ({ sequence, payload }))
      .slice(fromSeq, fromSeq + limit);
  }

  listStreams(prefix: string, after: string | undefined, limit: number | undefined): string[] {
    const codePoints = (text: string) => [...text].map((char) => char.codePointAt(0) ?? 0);
    const compare = (a: string, b: string) => {
      const [x, y] = [codePoints(a), codePoints(b)];
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    const names = [...this.streams.keys()]
      .filter((name) => name.startsWith(prefix) && (after === undefined || compare(name, after) > 0))
      .sort(compare);
    return names.slice(0, limit ?? names.length);
  }

  cas(name: string, expected: number, next: number): void {
    const actual = this.counters.get(name) ?? 0;
    if (actual !== expected) throw new ModelRejection({ code: 'CAS_CONFLICT', key: name, expected, actual });
    this.counters.set(name, next);
  }

  /** Ops in order on a copy; the first failure throws and the copy is dropped. */
  commit(ops: readonly WriteOp[]): { firstSeqs: (number | undefined)[] } {
    const scratch = this.copy();
    const firstSeqs = ops.map((op, index) => {
      try {
        return scratch.applyOp(op);
      } catch (cause) {
        throw new ModelRejection({ code: 'COMMIT_CONFLICT', index, cause: cause instanceof ModelRejection ? cause.fields : cause });
      }
    });
    this.streams.clear();
    this.counters.clear();
    for (const [name, entries] of scratch.streams) this.streams.set(name, entries);
    for (const [name, value] of scratch.counters) this.counters.set(name, value);
    return { firstSeqs };
  }

  applyOp(op: WriteOp): number | undefined {
    switch (op.op) {
      case 'append':
        return this.append(op.stream, [...op.payloads], op.expectedSeq);
      case 'cas':
        this.cas(op.key, op.expected, op.next);
        return undefined;
      case 'check': {
        const actual = this.counters.get(op.key) ?? 0;
        if (actual !== op.equals) throw new ModelRejection({ code: 'CHECK_FAILED', key: op.key, expected: op.equals, actual });
        return undefined;
      }
      case 'deleteStream': {
        const actual = this.length(op.stream);
        if (actual !== op.expectedLength) throw new ModelRejection({ code: 'SEQUENCE_CONFLICT', stream: op.stream, expected: op.expectedLength, actual });
        this.streams.delete(op.stream);
        return undefined;
      }
    }
  }

  copy(): Model {
    const copy = new Model();
    for (const [name, entries] of this.streams) copy.streams.set(name, [...entries]);
    for (const [name, value] of this.counters) copy.counters.set(name, value);
    return copy;
  }
}

/**
 * Concrete ops for a commit: each expectation is the value the ops before it
 * would leave (simulated on a copy of the model, conflicts ignored) plus its
 * delta, so conflicts happen early, late and in the middle of a commit.
 */
function resolveOps(model: Model, specs: readonly OpSpec[]): WriteOp[] {
  const scratch = model.copy();
  return specs.map((spec) => {
    let op: WriteOp;
    switch (spec.op) {
      case 'append':
        op = { op: 'append', stream: spec.stream, payloads: spec.payloads, expectedSeq: Math.max(0, scratch.length(spec.stream) + spec.delta) };
        break;
      case 'cas':
        op = { op: 'cas', key: spec.key, expected: Math.max(0, (scratch.counters.get(spec.key) ?? 0) + spec.delta), next: spec.next };
        break;
      case 'check':
        op = { op: 'check', key: spec.key, equals: Math.max(0, (scratch.counters.get(spec.key) ?? 0) + spec.delta) };
        break;
      case 'deleteStream':
        op = { op: 'deleteStream', stream: spec.stream, expectedLength: Math.max(0, scratch.length(spec.stream) + spec.delta) };
        break;
    }
    try {
      scratch.applyOp(op);
    } catch {
      // The simulation only steers expectations; a conflict here is what the test wants to see sometimes.
    }
    return op;
  });
}

/** How the model refuses a command: the code and public fields a store's typed error carries. */
class ModelRejection extends Error {
  constructor(readonly fields: { readonly code: string } & Record<string, unknown>) {
    super(fields.code);
  }
}

type Target = {
  append(stream: string, payloads: Uint8Array[], expectedSeq: number, single: boolean): unknown;
  readFrom(stream: string, fromSeq: number, limit: number): unknown;
  streamLength(stream: string): unknown;
  listStreams(prefix: string, after: string | undefined, limit: number | undefined): unknown;
  deleteStream(stream: string): unknown;
  readValue(key: string): unknown;
  cas(key: string, expected: number, next: number): unknown;
  commit(ops: WriteOp[]): unknown;
};

function modelTarget(model: Model): Target {
  return {
    append: (name, payloads, expectedSeq) => model.append(name, payloads, expectedSeq),
    readFrom: (name, fromSeq, limit) => model.readFrom(name, fromSeq, limit),
    streamLength: (name) => model.length(name),
    listStreams: (prefix, after, limit) => model.listStreams(prefix, after, limit),
    deleteStream: (name) => void model.streams.delete(name),
    readValue: (name) => model.counters.get(name),
    cas: (name, expected, next) => model.cas(name, expected, next),
    commit: (ops) => model.commit(ops),
  };
}

function storeTarget(store: DurableStore): Target {
  return {
    append: (name, payloads, expectedSeq, single) =>
      single ? store.append(name, payloads[0]!, expectedSeq) : store.appendMany(name, payloads, expectedSeq),
    readFrom: (name, fromSeq, limit) => store.readFrom(name, fromSeq, limit),
    streamLength: (name) => store.streamLength(name),
    listStreams: (prefix, after, limit) =>
      store.listStreams(prefix, { ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) }),
    deleteStream: (name) => store.deleteStream(name),
    readValue: (name) => store.readValue(name),
    cas: (name, expected, next) => store.cas(name, expected, next),
    commit: (ops) => store.commit(ops),
  };
}

/** Expectations are resolved against the model's state *before* the command, the same for both targets. */
async function run(target: Target, model: Model, step: Command): Promise<unknown> {
  try {
    switch (step.kind) {
      case 'append':
        return await target.append(step.stream, [step.payload], Math.max(0, model.length(step.stream) + step.seqDelta), true);
      case 'appendMany':
        return await target.append(step.stream, step.payloads, Math.max(0, model.length(step.stream) + step.seqDelta), false);
      case 'readFrom':
        return await target.readFrom(step.stream, step.fromSeq, step.limit);
      case 'streamLength':
        return await target.streamLength(step.stream);
      case 'listStreams':
        return await target.listStreams(step.prefix, step.after, step.limit);
      case 'deleteStream':
        return await target.deleteStream(step.stream);
      case 'readValue':
        return await target.readValue(step.key);
      case 'cas':
        return await target.cas(step.key, Math.max(0, (model.counters.get(step.key) ?? 0) + step.expectedDelta), step.next);
      case 'commit':
        return await target.commit(resolveOps(model, step.ops));
    }
  } catch (error) {
    // Compare the code and the public fields only.
    if (error instanceof LiminalError) return { thrown: publicFields(error) };
    if (error instanceof ModelRejection) return { thrown: error.fields };
    throw error;
  }
}

/** The code and public fields of an error, its cause's too (a commit conflict), without name or message. */
function publicFields(error: LiminalError): Record<string, unknown> {
  const { name: _name, ...fields } = { ...error } as Record<string, unknown>;
  if (error instanceof CommitConflictError) return { ...fields, index: error.index, cause: publicFields(error.cause) };
  return fields;
}

const kinds = await availableStoreKinds();

describe('every adapter behaves like the model under random command sequences', () => {
  for (const kind of kinds) {
    it(`${kind.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: 'max' }), async (commands) => {
          const store = await kind.open();
          const model = new Model();
          const [real, expected] = [storeTarget(store), modelTarget(model)];
          try {
            for (const [index, step] of commands.entries()) {
              const actualResult = await run(real, model, step);
              const expectedResult = await run(expected, model, step);
              expect({ index, step: step.kind, result: actualResult }).toEqual({ index, step: step.kind, result: expectedResult });
            }
          } finally {
            await store.close();
          }
        }),
        // Each PostgreSQL run creates and drops a schema; fewer runs keep the suite quick.
        { numRuns: kind.name === 'postgres' ? 30 : 100 },
      );
    });
  }
});
