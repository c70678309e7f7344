import { ConfigError, MemoryStore, StoreUnavailableError, type DurableStore, type WriteOp } from '@liminal/store';
import { availableStoreKinds } from '@liminal/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import {
  CompensationInterruptedError,
  ConversationFailedError,
  DurableSteps,
  openConversation,
  participant,
  type CompensationRegistry,
  type ConversationLogEntry,
  type ParticipantInput,
} from '../src/index.js';

const kinds = await availableStoreKinds();

/** A store whose appends fail (with the store's own typed error) once `failFrom` events are in a stream. */
function failingAppends(inner: DurableStore, failFrom: number): DurableStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (stream: string, payload: Uint8Array, expectedSeq: number) => {
          if (expectedSeq >= failFrom) throw new StoreUnavailableError('injected append failure');
          return target.append(stream, payload, expectedSeq);
        };
      }
      // A conversation's journal appends go through commit (with its index writes).
      if (property === 'commit') {
        return async (ops: readonly WriteOp[]) => {
          if (ops.some((op) => op.op === 'append' && !op.stream.startsWith('conversation') && op.expectedSeq >= failFrom)) {
            throw new StoreUnavailableError('injected append failure');
          }
          return target.commit(ops);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type Order = { readonly id: string; readonly crash?: boolean };

/** Reserves stock and charges per order (both compensable by name); crashes after charging when told. */
const shop = participant(
  'shop',
  fromPromise<string, ParticipantInput<Order>>(async ({ input }) => {
    const { steps, payload } = input;
    await steps.step('reserve', () => `stock:${payload.id}`, { compensate: 'release' });
    await steps.step('charge', () => ({ amount: 10, order: payload.id }), { compensate: 'refund' });
    if (payload.crash === true) throw new Error(`crash in ${payload.id}`);
    return `done ${payload.id}`;
  }),
);

const compensationEntries = (log: readonly ConversationLogEntry[]) =>
  log.flatMap((entry) =>
    entry.kind === 'compensated' || entry.kind === 'compensationFailed'
      ? [`${entry.kind === 'compensated' ? 'ok' : entry.outcome} ${entry.messageId}/${entry.step}`]
      : [],
  );

describe.each(kinds)('durable compensation on $name', (kind) => {
  let store: DurableStore;
  beforeEach(async () => {
    store = await kind.open();
  });
  afterEach(async () => {
    await store.close();
  });

  function handlers(done: string[], refundFails: (order: string) => boolean = () => false): CompensationRegistry {
    return {
      release: (output, info) => void done.push(`release ${String(output)} (${info.messageId}/${info.step})`),
      refund: (output) => {
        const { order } = output as { order: string };
        if (refundFails(order)) throw new Error(`card network down for ${order}`);
        done.push(`refund ${order}`);
      },
    };
  }

  it('a crash runs every compensation recorded in the log newest first, once, and a reopened conversation reads the outcome back without running any', async () => {
    const done: string[] = [];
    const options = { id: 'saga', mode: 'durable', store, onCrash: 'compensate', participants: [shop], compensations: handlers(done) } as const;
    const handle = await openConversation(options);
    await handle.ask({ id: 'o1' }, { messageId: 'o1', timeoutMs: 5000 });
    const crash = await handle.ask({ id: 'o2', crash: true }, { messageId: 'o2', timeoutMs: 5000 }).catch((error: unknown) => error);
    expect(crash).toBeInstanceOf(ConversationFailedError);
    expect(crash).toMatchObject({ reason: 'compensated' });
    expect(done).toEqual(['refund o2', 'release stock:o2 (o2/reserve)', 'refund o1', 'release stock:o1 (o1/reserve)']);
    expect(compensationEntries(handle.getState().log)).toEqual(['ok o2/charge', 'ok o2/reserve', 'ok o1/charge', 'ok o1/reserve']);

    done.length = 0;
    const reopened = await openConversation(options);
    await expect(reopened.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'compensated' });
    expect(reopened.getState()).toMatchObject({ phase: 'failed', failure: { reason: 'compensated' } });
    expect(compensationEntries(reopened.getState().log)).toEqual(['ok o2/charge', 'ok o2/reserve', 'ok o1/charge', 'ok o1/reserve']);
    expect(() => reopened.send({ id: 'o3' }, { messageId: 'o3' })).toThrow(ConversationFailedError);
    expect(done).toEqual([]);
  });

  it('a compensation that keeps throwing is tried compensationAttempts times, recorded failed, and the others still run; the failure survives a reopen', async () => {
    const done: string[] = [];
    let refundTries = 0;
    const compensations = handlers(done, (order) => order === 'o1' && ++refundTries > 0);
    const options = { id: 'saga-failing', mode: 'durable', store, onCrash: 'compensate', participants: [shop], compensations, compensationAttempts: 2 } as const;
    const handle = await openConversation(options);
    await handle.ask({ id: 'o1' }, { messageId: 'o1', timeoutMs: 5000 });
    await handle.ask({ id: 'o2', crash: true }, { messageId: 'o2', timeoutMs: 5000 }).catch(() => {});
    await expect(handle.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'compensated' });
    expect(refundTries).toBe(2);
    expect(done).toEqual(['refund o2', 'release stock:o2 (o2/reserve)', 'release stock:o1 (o1/reserve)']);
    const failed = handle.getState().log.filter((entry) => entry.kind === 'compensationFailed');
    expect(failed).toMatchObject([{ messageId: 'o1', step: 'charge', participant: 'shop', outcome: 'failed' }]);
    expect((failed[0] as { error: unknown }).error).toBeInstanceOf(Error);

    const reopened = await openConversation(options);
    await expect(reopened.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'compensated' });
    expect(refundTries).toBe(2);
    const recovered = reopened.getState().log.filter((entry) => entry.kind === 'compensationFailed');
    expect(recovered).toMatchObject([{ messageId: 'o1', step: 'charge', outcome: 'failed', error: 'Error: card network down for o1' }]);
  });

  it('a compensation started but never recorded done (its writer died) is reported interrupted and not run again; the rest resume in reverse order', async () => {
    const refunds: string[] = [];
    const releases: string[] = [];
    const compensations: CompensationRegistry = {
      release: (output) => void releases.push(String(output)),
      refund: (output) => void refunds.push((output as { order: string }).order),
    };
    const steps = await DurableSteps.open(store, 'saga-interrupted', { compensations });
    for (const id of ['o1', 'o2']) {
      const admission = await steps.begin(id, { participant: 'shop' });
      if (admission.kind !== 'run') throw new Error('expected a run');
      await admission.steps.step('reserve', () => `stock:${id}`, { compensate: 'release' });
      await admission.steps.step('charge', () => ({ amount: 10, order: id }), { compensate: 'refund' });
    }
    // A writer that records the plan and o2's refund `started`, runs the refund,
    // and dies before recording its outcome (its next append fails).
    const planAt = steps.conversation.expectedSeq;
    const dying = await DurableSteps.open(failingAppends(store, planAt + 4), 'saga-interrupted', { compensations });
    await expect(dying.compensate()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(refunds).toEqual(['o2']);

    const resumed = await openConversation({ id: 'saga-interrupted', mode: 'durable', store, onCrash: 'compensate', participants: [shop], compensations });
    await expect(resumed.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'compensated' });
    expect(compensationEntries(resumed.getState().log)).toEqual(['interrupted o2/charge', 'ok o2/reserve', 'ok o1/charge', 'ok o1/reserve']);
    const interrupted = resumed.getState().log.find((entry) => entry.kind === 'compensationFailed');
    expect((interrupted as { error: unknown }).error).toBeInstanceOf(CompensationInterruptedError);
    expect(refunds).toEqual(['o2', 'o1']);
    expect(releases).toEqual(['stock:o2', 'stock:o1']);
  });

  it("with interruptedCompensations: 'runAgain' the interrupted compensation runs again (for idempotent handlers)", async () => {
    const refunds: string[] = [];
    const compensations: CompensationRegistry = {
      release: () => {},
      refund: (output) => void refunds.push((output as { order: string }).order),
    };
    const steps = await DurableSteps.open(store, 'saga-run-again', { compensations });
    const admission = await steps.begin('o1', { participant: 'shop' });
    if (admission.kind !== 'run') throw new Error('expected a run');
    await admission.steps.step('charge', () => ({ amount: 10, order: 'o1' }), { compensate: 'refund' });
    const dying = await DurableSteps.open(failingAppends(store, steps.conversation.expectedSeq + 4), 'saga-run-again', { compensations });
    await expect(dying.compensate()).rejects.toBeInstanceOf(StoreUnavailableError);
    const resumed = await DurableSteps.open(store, 'saga-run-again', { compensations, interruptedCompensations: 'runAgain' });
    expect(await resumed.compensate()).toMatchObject([{ messageId: 'o1', step: 'charge', outcome: { kind: 'compensated', attempts: 1 } }]);
    expect(refunds).toEqual(['o1', 'o1']);
  });
});

describe('durable compensation configuration', () => {
  it('a durable step with a closure compensation, or a name nobody registered, is a ConfigError before its side effect runs', async () => {
    const store = new MemoryStore();
    let ran = 0;
    const steps = await DurableSteps.open(store, 'config', { compensations: { undo: () => {} } });
    const admission = await steps.begin('m', { participant: 'p' });
    if (admission.kind !== 'run') throw new Error('expected a run');
    await expect(admission.steps.step('a', () => ++ran, { compensate: () => {} })).rejects.toBeInstanceOf(ConfigError);
    await expect(admission.steps.step('b', () => ++ran, { compensate: 'missing' })).rejects.toBeInstanceOf(ConfigError);
    expect(ran).toBe(0);
    await expect(DurableSteps.open(store, 'config', { compensationAttempts: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(
      openConversation({ mode: 'ephemeral', onCrash: 'compensate', participants: [shop], compensations: { refund: 'no' as never } }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('message ids starting with liminal: are reserved for the log', async () => {
    const handle = await openConversation({ mode: 'ephemeral', onCrash: 'fail', participants: [shop] });
    expect(() => handle.send({ id: 'x' }, { messageId: 'liminal:compensation' })).toThrow(/reserved/);
    await handle.close();
  });
});

describe('durable writes are awaited before anyone sees the outcome', () => {
  const echo = participant(
    'echo',
    fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
      await input.steps.step('one', () => 1);
      return `echo ${input.payload}`;
    }),
  );

  it('a reply whose finish record fails is never delivered: ask rejects with journalFailed and the store error as cause', async () => {
    // created 0, active 1, the sent entry 2, receive 3, started 4, step 5, then the reply record (6) fails.
    const store = failingAppends(new MemoryStore(), 6);
    const handle = await openConversation({ id: 'finish-fails', mode: 'durable', store, onCrash: 'fail', participants: [echo] });
    const error = await handle.ask('hi', { messageId: 'm', timeoutMs: 5000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect(error).toMatchObject({ reason: 'journalFailed' });
    expect((error as Error).cause).toBeInstanceOf(StoreUnavailableError);
    expect(handle.getState().log.filter((entry) => entry.kind === 'received')).toEqual([]);
  });

  it('a crash whose error record fails surfaces as journalFailed, not as the crash the log does not hold', async () => {
    const crasher = participant(
      'crasher',
      fromPromise(async () => {
        throw new Error('boom');
      }),
    );
    // created 0, active 1, the sent entry 2, receive 3, started 4, then the error record (5) fails.
    const store = failingAppends(new MemoryStore(), 5);
    const handle = await openConversation({ id: 'crash-record-fails', mode: 'durable', store, onCrash: 'fail', participants: [crasher] });
    const error = await handle.ask('hi', { messageId: 'm', timeoutMs: 5000 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONVERSATION_FAILED', reason: 'journalFailed' });
    expect((error as Error).cause).toBeInstanceOf(StoreUnavailableError);
    expect(handle.getState().failure?.reason).toBe('journalFailed');
  });
});
