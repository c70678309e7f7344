import { join } from 'node:path';
import { DurableSteps, openConversation, participant, type ParticipantInput, type StepContext } from '@liminal/actors';
import { codec, DurableConversation, snapshotStreamFor, type ConversationEvent, type LifecycleEvent } from '@liminal/durability';
import { readBatches, SqliteStore, type DurableStore } from '@liminal/store';
import { measureSnapshotGrowth } from '@liminal/testkit';
import { fromPromise } from 'xstate';
import { defineSuite, type BenchContext } from '../src/suite.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const targetEvents = 10_000;
const stepsPerMessage = 96;

/** One participant whose turn runs `stepsPerMessage` durable steps: ~100 journal events per message. */
const worker = participant(
  'worker',
  fromPromise<string, ParticipantInput<string>>(async ({ input }) => {
    let last = '';
    for (let i = 0; i < stepsPerMessage; i++) last = await input.steps.step(`step-${i}`, () => `${input.steps.messageId}:${i}`);
    return last;
  }),
);

const open = (store: DurableStore, id: string) => openConversation({ id, mode: 'durable', store, onCrash: 'fail', participants: [worker] });

/** Writes a conversation as a user does (asks through openConversation) until its journal holds `targetEvents` events. */
async function writeConversation(store: DurableStore, id: string): Promise<number> {
  const handle = await open(store, id);
  for (let message = 0; (await store.streamLength(id)) < targetEvents; message++) {
    await handle.ask(`order-${message}`, { timeoutMs: 60_000, messageId: `m-${message}` });
  }
  // Left open: a closed conversation reopens closed and runs nothing.
  return store.streamLength(id);
}

/** The same journal under another id, without its snapshot stream: reopening it is a full replay. */
async function copyJournal(store: DurableStore, from: string, to: string): Promise<void> {
  let seq = 0;
  for await (const batch of readBatches(store, from, 0, 1000)) {
    await store.appendMany(to, batch.map((entry) => entry.payload), seq);
    seq += batch.length;
  }
}

async function lastLogEntry(store: DurableStore, id: string): Promise<LifecycleEvent> {
  let last: LifecycleEvent | undefined;
  for await (const batch of readBatches(store, id, 0, 1000)) {
    for (const entry of batch) {
      const event = codec.decode(entry.payload) as ConversationEvent;
      if (event.kind === 'entryLogged') last = event;
    }
  }
  if (last === undefined) throw new Error('expected a log entry in the journal');
  return last;
}

async function reopenRows(bench: BenchContext): Promise<void> {
  const dir = bench.tempDir();
  // NORMAL: the fixture is written ~10,000 commits faster; reads (all that is measured below) do not depend on it.
  const store = new SqliteStore(join(dir, 'reopen.db'), { synchronous: 'NORMAL' });
  bench.cleanup(() => store.close());
  const started = performance.now();
  const events = await writeConversation(store, 'snapshotted');
  await copyJournal(store, 'snapshotted', 'replayed');
  // The same journal plus its last log entry once more, recovered with a snapshot after every event: its one snapshot covers the whole log.
  await copyJournal(store, 'snapshotted', 'covered');
  const covering = await DurableConversation.recover(store, 'covered', { index: true, snapshots: { kind: 'everyEvents', events: 1 } });
  await covering.recordLifecycle(await lastLogEntry(store, 'snapshotted'));
  bench.log(`wrote ${events} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const snapshotted = await DurableConversation.recover(store, 'snapshotted', { index: true });
  const replayed = await DurableConversation.recover(store, 'replayed', { index: true, snapshots: { kind: 'never' } });
  if (snapshotted.recoveredFrom.kind !== 'snapshot') throw new Error(`expected a snapshot recovery, got ${snapshotted.recoveredFrom.kind}`);
  if (replayed.recoveredFrom.kind !== 'replay' || replayed.expectedSeq !== events) throw new Error('expected a full replay of the copy');
  const coversSeq = snapshotted.recoveredFrom.coversSeq;
  const snapshots = await store.streamLength(snapshotStreamFor('snapshotted'));
  bench.record({
    id: '14-reopen/tail-events',
    title: `Events a reopen replays after the snapshot chain (journal of ${events.toLocaleString('en-US')} events)`,
    value: events - coversSeq,
    unit: 'events',
    note: `openConversation keeps the default policy (a snapshot every 1024 events): the chain is ${snapshots} incremental snapshots covering ${coversSeq} events.`,
  });

  // A reopen must not append (it would grow the journal under the measurement and give the copy a snapshot).
  await open(store, 'snapshotted');
  await open(store, 'replayed');
  await open(store, 'covered');
  if ((await store.streamLength('snapshotted')) !== events || (await store.streamLength('replayed')) !== events) throw new Error('a reopen appended to the journal');
  const covered = await DurableConversation.recover(store, 'covered');
  if (covered.recoveredFrom.kind !== 'snapshot' || covered.recoveredFrom.coversSeq !== events + 1 || covered.expectedSeq !== events + 1) throw new Error('expected one snapshot covering the whole log');
  if ((await store.streamLength(snapshotStreamFor('replayed'))) !== 0) throw new Error('the replayed copy gained a snapshot');

  let fresh = 0;
  await bench.compare({
    id: '14-reopen/sqlite',
    title: `openConversation (durable) reopening a conversation of ${events.toLocaleString('en-US')} events: from its snapshots vs full replay vs a fresh conversation (SqliteStore)`,
    note:
      `Written through openConversation + ask: ${stepsPerMessage} named steps per message (~100 events). One op = one openConversation({mode: 'durable'}) resolving ` +
      `(recovery, index load, actor start); handles are left open, not closed (close would record the phase). "full replay" reopens a copy of the same journal ` +
      `without its snapshot stream; "covering the whole log" reopens a copy plus one event whose single snapshot covers every event (what a policy snapshotting at the end would give); "fresh" opens a new id (writes conversationCreated in one commit, synchronous=NORMAL).`,
    sides: [
      { label: 'reopen from snapshots', config: `SqliteStore, ${snapshots} snapshots + ${events - coversSeq} tail events`, run: () => open(store, 'snapshotted') },
      { label: 'reopen by full replay', config: `SqliteStore, no snapshot stream, ${events} events`, run: () => open(store, 'replayed') },
      { label: 'reopen, one snapshot covering the whole log', config: `SqliteStore, the journal + 1 event, 0 tail events`, run: () => open(store, 'covered') },
      { label: 'open a fresh conversation', config: 'SqliteStore, new id per op', run: () => open(store, `fresh-${fresh++}`) },
    ],
    targets: [{ vs: 'reopen by full replay', atLeast: 20 }],
  });

  await bench.compare({
    id: '14-reopen/recover-only',
    title: `DurableConversation.recover({index: true}) of the same ${events.toLocaleString('en-US')}-event journal: snapshots vs full replay (SqliteStore)`,
    note: 'The recovery openConversation starts with, without the actor: separates the library recovery from the conversation start.',
    sides: [
      { label: 'recover from snapshots', config: 'SqliteStore', run: () => DurableConversation.recover(store, 'snapshotted', { index: true }) },
      { label: 'recover by full replay', config: 'SqliteStore, no snapshot stream', run: () => DurableConversation.recover(store, 'replayed', { index: true, snapshots: { kind: 'never' } }) },
      { label: 'recover, one snapshot covering the whole log', config: 'SqliteStore', run: () => DurableConversation.recover(store, 'covered', { index: true }) },
    ],
    targets: [{ vs: 'recover by full replay', atLeast: 20 }],
  });
}

/*
 * What naming a step adds over a positional step, replicated (the check is
 * private to DurableSteps, packages/actors/src/DurableSteps.ts #replayed and
 * step): recording validates the name and encodes it into the step record;
 * replaying decodes it from the record and compares it (and the kind) with
 * what the handler asks for.
 */
function recordSideCheck(name: string): number {
  if (typeof name !== 'string' || name === '') throw new Error('unreachable');
  return encoder.encode(name).length;
}

function replaySideCheck(recordedBytes: Uint8Array, name: string, kind: 'step' | 'timer'): boolean {
  return decoder.decode(recordedBytes) === name && kind === 'step';
}

async function stepRows(bench: BenchContext): Promise<void> {
  const dir = bench.tempDir();
  const store = new SqliteStore(join(dir, 'steps.db'), { synchronous: 'FULL' });
  bench.cleanup(() => store.close());

  const recording = await DurableSteps.open(store, 'recording');
  let recordingCtx: StepContext | undefined;
  let recorded = 0;
  let message = 0;
  const recordStep = async (): Promise<unknown> => {
    // A new message every 100 steps keeps the message's in-memory state small, as in real use.
    if (recordingCtx === undefined || recorded === 100) {
      if (recordingCtx !== undefined) await recording.finish(`m-${message++}`);
      const admission = await recording.begin(`m-${message}`);
      if (admission.kind !== 'run') throw new Error('expected a new message');
      recordingCtx = admission.steps;
      recorded = 0;
    }
    return recordingCtx.step(`charge-card-${recorded++}`, () => 'ok');
  };

  // A message with `replayable` recorded steps, left unfinished; each begin replays it from step 0.
  const replayable = 1000;
  const replaying = await DurableSteps.open(store, 'replaying');
  const first = await replaying.begin('r');
  if (first.kind !== 'run') throw new Error('expected a new message');
  for (let i = 0; i < replayable; i++) await first.steps.step(`charge-card-${i}`, () => 'ok');
  let replayCtx = first.steps;
  let replayedIndex = replayable;
  const replayStep = async (): Promise<unknown> => {
    if (replayedIndex === replayable) {
      const admission = await replaying.begin('r');
      if (admission.kind !== 'run' || admission.resumedAt !== replayable) throw new Error('expected a resumed message');
      replayCtx = admission.steps;
      replayedIndex = 0;
    }
    return replayCtx.step(`charge-card-${replayedIndex++}`, () => 'ran again');
  };
  if ((await replayStep()) !== 'ok') throw new Error('expected the recorded output');

  const names = Array.from({ length: 1000 }, (_, i) => `charge-card-${i}`);
  const nameBytes = names.map((name) => encoder.encode(name));
  let checkedRecord = 0;
  let checkedReplay = 0;
  await bench.compare({
    id: '14-step-name/sqlite',
    title: 'The step-name check alone (record + replay side) vs a whole durable step (recorded, and replayed), SqliteStore',
    note:
      'Every durable step is named; a positional step needs a library change, so this row measures the name check in isolation against whole steps ' +
      'through DurableSteps: the record side (validate the name, encode it into the record) and the replay side (decode the recorded name, compare it and the kind). ' +
      'The ratios to read are check ÷ the step of the same kind (record check vs recorded step, replay check vs replayed step): cost(step) ÷ cost(check) ≥ 10 means the check costs ≤ 10 % of the step. Recorded: one step appended (synchronous=FULL), a new message ' +
      `every 100 steps. Replayed: a step read back from an unfinished message of ${replayable} steps (a begin every ${replayable} steps, counted in).`,
    sides: [
      { label: 'name check alone (record + replay side)', config: 'in memory, replicated', run: () => {
        const i = checkedRecord++ % 1000;
        return recordSideCheck(names[i]!) + (replaySideCheck(nameBytes[i]!, names[i]!, 'step') ? 1 : 0);
      } },
      { label: 'durable step, recorded', config: 'DurableSteps.step, SqliteStore FULL', run: recordStep },
      { label: 'durable step, replayed', config: 'DurableSteps.step from the log', run: replayStep },
    ],
    targets: [{ vs: 'durable step, recorded', atLeast: 10 }],
  });

  await bench.compare({
    id: '14-step-name/replay-check',
    title: 'The replay side of the name check alone vs a whole replayed durable step',
    note: 'The replayed step is where the name is compared; a positional replay would still decode the record, only not its name. Same replayed step as the row above.',
    sides: [
      { label: 'replay-side name check alone', config: 'in memory, replicated', run: () => {
        const i = checkedReplay++ % 1000;
        return replaySideCheck(nameBytes[i]!, names[i]!, 'step');
      } },
      { label: 'durable step, replayed', config: 'DurableSteps.step from the log', run: replayStep },
    ],
    targets: [{ vs: 'durable step, replayed', atLeast: 10 }],
  });
}

/** Bytes written by one long-lived conversation (default snapshot policy), quarter by quarter: linear, not quadratic. */
async function snapshotGrowthRows(bench: BenchContext): Promise<void> {
  const total = bench.scale(200_000, 20_000);
  const started = performance.now();
  const { store, checkpoints: quarters } = await measureSnapshotGrowth((counting) => DurableConversation.create(counting, 'long'), total);
  const perQuarter = quarters.map((q, i) => q.snapshotBytes - (i === 0 ? 0 : quarters[i - 1]!.snapshotBytes));
  bench.log(`${total} messages in ${((performance.now() - started) / 1000).toFixed(1)} s; snapshot bytes per quarter: ${perQuarter.join(', ')}`);
  const n = total.toLocaleString('en-US');
  const note = `DurableConversation, default snapshot policy, MemoryStore counting bytes; ${n} messages of 4 events each (received, started, one step, finished).`;
  bench.record({ id: '14-snapshot-bytes/last-vs-first-quarter', title: `Snapshot bytes written in the last quarter of ${n} messages ÷ in the first (quadratic growth gives 7)`, value: perQuarter[3]! / perQuarter[0]!, unit: '×', atMost: 1.25, note });
  bench.record({ id: '14-snapshot-bytes/vs-event-bytes', title: `Snapshot bytes ÷ event bytes after ${n} messages`, value: store.snapshotBytes / store.eventBytes, unit: '×', atMost: 1, note });
}

export default defineSuite({
  title: '14. Reopening a durable conversation, and the cost of step names',
  async run(bench) {
    await reopenRows(bench);
    await stepRows(bench);
    await snapshotGrowthRows(bench);
  },
});
