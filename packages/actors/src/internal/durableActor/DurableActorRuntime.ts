import { DedupCache, storeKey, type Clock } from '@liminal/durability';
import { assertName, CommitConflictError, DecodeError, InvalidArgumentError, readBatches, SequenceConflictError, type DurableStore, type WriteOp } from '@liminal/store';
import { createActor, waitFor, type AnyActor, type AnyStateMachine, type EventObject, type InspectionEvent, type Observer, type Subscription } from 'xstate';
import type { DurableActorRecovery, DurableActorRef, DurableActorStatus, DurableSendOptions, DurableSendResult } from '../../createDurableActor.js';
import { ActorFencedError, ActorStoppedError, JournalMismatchError, VersionMismatchError } from '../../durableActorErrors.js';
import {
  decodeJournalRecord,
  decodeSnapshotRecord,
  copyEvent,
  encodeRecord,
  roundTrip,
  type InputRecord,
  type JournalRecord,
  type SnapshotRecord,
} from './records.js';
import { SystemGate, type ProducedInput } from './SystemGate.js';
import type { InternalActor } from './xstateInternals.js';

export interface RuntimeOptions {
  readonly store: DurableStore;
  readonly id: string;
  readonly input: unknown;
  readonly version: string | null;
  readonly versions: Readonly<Record<string, AnyStateMachine>>;
  readonly clock: Clock;
  readonly inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  readonly snapshotEvery: number;
}

/** Replay reads the journal this many entries at a time. */
const READ_BATCH = 1024;

interface Pending {
  readonly record: ProducedInput | Extract<JournalRecord, { kind: 'actionError' }>;
  /** The JSON of `record.event`, when `copyEvent` made it. */
  readonly eventText?: string;
  /** A keyed event from outside: journaled only if no event with this key was (see `#append`). */
  readonly idempotencyKey?: string;
  readonly settle?: { resolve(result: DurableSendResult): void; reject(error: unknown): void };
}

const JOURNALED: DurableSendResult = { kind: 'journaled' };
const DUPLICATE: DurableSendResult = { kind: 'duplicate' };
const encoder = new TextEncoder();

export function journalStreamOf(id: string): string {
  return storeKey('actor', id, 'journal');
}

export function snapshotStreamOf(id: string): string {
  return storeKey('actor', id, 'snapshots');
}

/** The dedup namespace of an actor's event idempotency keys (`liminal claims` lists it). */
export function eventKeysOf(id: string): string {
  return storeKey('actor', id, 'events');
}

/**
 * One open durable actor: the XState system (behind a `SystemGate`), the
 * journal it writes with optimistic sequences (a newer owner fences it), and
 * the queue that puts every input in the journal before it is processed.
 */
export class DurableActorRuntime {
  readonly #store: DurableStore;
  readonly #clock: Clock;
  readonly #journal: string;
  readonly #snapshots: string;
  readonly #snapshotEvery: number;
  readonly #eventKeys: DedupCache;
  readonly #gate: SystemGate;
  #actor!: AnyActor;
  #seq = 0;
  #snapshotSeq = 0;
  #snapshotCount = 0;
  #queue: Pending[] = [];
  #pumping: Promise<void> | undefined;
  #status: DurableActorStatus = 'active';
  #recovery: DurableActorRecovery = { source: 'created', replayed: 0 };
  #failure: unknown;

  private constructor(
    readonly id: string,
    readonly version: string | null,
    options: RuntimeOptions,
  ) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#journal = journalStreamOf(id);
    this.#snapshots = snapshotStreamOf(id);
    this.#snapshotEvery = options.snapshotEvery;
    this.#eventKeys = new DedupCache(options.store, eventKeysOf(id));
    this.#gate = new SystemGate(options.clock, (input) => this.#enqueue({ record: input }), options.inspect);
  }

  static async open(machine: AnyStateMachine, options: RuntimeOptions): Promise<DurableActorRuntime> {
    const { store, id } = options;
    const journal = journalStreamOf(id);
    const length = await store.streamLength(journal);
    if (length === 0) return DurableActorRuntime.#create(machine, options);

    const header = decodeJournalRecord((await store.readFrom(journal, 0, 1))[0]!.payload);
    if (header.kind !== 'created') throw new DecodeError(`journal ${journal} does not start with its creation record`);
    if (header.machineId !== machine.id) throw new JournalMismatchError(id, header.machineId, machine.id);
    const definition = header.version === options.version ? machine : header.version === null ? undefined : options.versions[header.version];
    if (definition === undefined) throw new VersionMismatchError(id, header.version, options.version, Object.keys(options.versions));
    if (definition.id !== header.machineId) throw new JournalMismatchError(id, header.machineId, definition.id);

    const snapshotCount = await store.streamLength(snapshotStreamOf(id));
    let snapshot: SnapshotRecord | undefined;
    let rejected: string | undefined;
    if (snapshotCount > 0) {
      try {
        snapshot = decodeSnapshotRecord((await store.readFrom(snapshotStreamOf(id), snapshotCount - 1, 1))[0]!.payload);
        if (snapshot.coversSeq > length) throw new DecodeError(`snapshot of ${id} covers ${snapshot.coversSeq} entries; the journal has ${length}`);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        // A snapshot only shortens recovery: a damaged one is set aside and the journal replayed.
        snapshot = undefined;
        rejected = error.message;
      }
    }
    const runtime = await DurableActorRuntime.#recover(definition, header, options, snapshot, snapshotCount);
    if (runtime !== undefined) return runtime.#withRecovery(rejected);
    // XState could not restore the snapshot (its state no longer matches the machine, or a restore bug): replay it all.
    const replayed = await DurableActorRuntime.#recover(definition, header, options, undefined, snapshotCount);
    return replayed!.#withRecovery('XState could not restore the latest snapshot');
  }

  /** Replays the journal after `snapshot` (or all of it); undefined when XState fails to restore the snapshot. */
  static async #recover(
    machine: AnyStateMachine,
    header: Extract<JournalRecord, { kind: 'created' }>,
    options: RuntimeOptions,
    snapshot: SnapshotRecord | undefined,
    snapshotCount: number,
  ): Promise<DurableActorRuntime | undefined> {
    const journal = journalStreamOf(options.id);
    const from = snapshot?.coversSeq ?? 1;
    const tail: JournalRecord[] = [];
    for await (const batch of readBatches(options.store, journal, from, READ_BATCH)) {
      for (const entry of batch) tail.push(decodeJournalRecord(entry.payload));
    }
    if (tail.some((record) => record.kind === 'created')) throw new DecodeError(`journal ${journal} has a second creation record`);
    const runtime = new DurableActorRuntime(options.id, header.version, options);
    runtime.#seq = from + tail.length;
    runtime.#snapshotSeq = snapshot?.coversSeq ?? 0;
    runtime.#snapshotCount = snapshotCount;
    runtime.#recovery = { source: snapshot === undefined ? 'journal' : 'snapshot', replayed: tail.length };
    if (!runtime.#replay(machine, header, snapshot, from, tail)) return undefined;
    // The ownership mark goes before anything live: a stale owner's next write now conflicts.
    try {
      await runtime.#append([encodeRecord({ kind: 'opened', at: options.clock.now() })]);
    } catch (error) {
      runtime.#actor.stop();
      throw error;
    }
    runtime.#goLive();
    return runtime;
  }

  static async #create(machine: AnyStateMachine, options: RuntimeOptions): Promise<DurableActorRuntime> {
    const header: JournalRecord = { kind: 'created', machineId: machine.id, version: options.version, input: roundTrip('input', options.input ?? null), at: options.clock.now() };
    const runtime = new DurableActorRuntime(options.id, options.version, options);
    await runtime.#append([encodeRecord(header)]);
    runtime.#gate.mode = 'live';
    runtime.#gate.scheduler.goLive();
    runtime.#gate.beginInput(header.at, undefined);
    runtime.#start(machine, { input: header.input ?? undefined });
    runtime.#afterInput(0, runtime.#gate.endInput());
    void runtime.#pump();
    return runtime;
  }

  #replay(machine: AnyStateMachine, header: Extract<JournalRecord, { kind: 'created' }>, snapshot: SnapshotRecord | undefined, from: number, tail: readonly JournalRecord[]): boolean {
    const errors = new Map<number, Map<number, unknown>>();
    for (const record of tail) {
      if (record.kind === 'actionError') errors.set(record.inputSeq, (errors.get(record.inputSeq) ?? new Map<number, unknown>()).set(record.ordinal, record.error));
    }
    const gate = this.#gate;
    if (snapshot === undefined) {
      gate.beginInput(header.at, errors.get(0));
      this.#start(machine, { input: header.input ?? undefined });
    } else {
      gate.beginRestore(snapshot.uids, snapshot.nextUid, snapshot.timers, snapshot.nextTimer);
      gate.beginInput(header.at, undefined);
      this.#start(machine, { snapshot: snapshot.persisted });
      const restored = (this.#actor.getSnapshot() as { status: string }).status;
      if (restored === 'error' && (snapshot.persisted as { status?: unknown }).status !== 'error') {
        gate.stop();
        this.#actor.stop();
        return false;
      }
    }
    gate.endInput();
    tail.forEach((record, index) => {
      if (record.kind !== 'event' && record.kind !== 'timer') return;
      gate.beginInput(record.at, errors.get(from + index));
      gate.deliver(record);
      gate.endInput();
    });
    return true;
  }

  #goLive(): void {
    this.#gate.goLive();
    this.#syncStatus();
    void this.#pump();
  }

  #withRecovery(rejectedSnapshot: string | undefined): this {
    if (rejectedSnapshot !== undefined) this.#recovery = { ...this.#recovery, rejectedSnapshot };
    return this;
  }

  /** How this instance was rebuilt (for tests and operators). */
  get recovery(): DurableActorRecovery {
    return this.#recovery;
  }

  #start(machine: AnyStateMachine, init: { input?: unknown; snapshot?: unknown }): void {
    const gate = this.#gate;
    this.#actor = createActor(machine, { id: this.id, ...init, inspect: gate.inspect } as never);
    gate.endRestore();
    // Without an error observer XState reports a failed root as an unhandled error; the durable status carries it.
    this.#actor.subscribe({ error: () => {} });
    this.#actor.start();
  }

  get status(): DurableActorStatus {
    return this.#status;
  }

  get system(): { get(systemId: string): DurableActorRef | undefined } {
    return {
      get: (systemId) => {
        const actor = (this.#actor.system as { get(id: string): InternalActor | undefined }).get(systemId);
        const address = actor === undefined ? undefined : this.#gate.addressOf(actor);
        if (actor === undefined || address === undefined) return undefined;
        return {
          id: actor.id,
          send: (event, sendOptions) => this.#sendTo(address, event, sendOptions),
          getSnapshot: () => actor.getSnapshot(),
          subscribe: (observer) => actor.subscribe(observer),
        };
      },
    };
  }

  send(event: EventObject, options?: DurableSendOptions): Promise<DurableSendResult> {
    return this.#sendTo({ path: [], uid: 0 }, event, options);
  }

  getSnapshot(): unknown {
    return this.#actor.getSnapshot();
  }

  subscribe(observer: Observer<unknown> | ((snapshot: unknown) => void)): Subscription {
    return this.#actor.subscribe(observer as Observer<unknown>);
  }

  on(type: string, handler: (event: EventObject) => void): Subscription {
    return this.#actor.on(type, handler);
  }

  waitFor(predicate: (snapshot: unknown) => boolean, options: { readonly timeoutMs?: number } = {}): Promise<unknown> {
    return waitFor(this.#actor, predicate, options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs });
  }

  async flush(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
  }

  async stop(): Promise<void> {
    if (this.#status === 'active') this.#status = 'stopped';
    await this.flush();
    this.#gate.stop();
    this.#actor.stop();
  }

  #sendTo(target: { path: readonly string[]; uid: number }, event: unknown, options: DurableSendOptions = {}): Promise<DurableSendResult> {
    if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') {
      return Promise.reject(new InvalidArgumentError('event', 'expected an object with a string `type`'));
    }
    let copy: { readonly event: EventObject; readonly text: string };
    let idempotencyKey: string | undefined;
    try {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected { idempotencyKey? }');
      idempotencyKey = options.idempotencyKey;
      if (idempotencyKey !== undefined) assertName('idempotencyKey', idempotencyKey);
      copy = copyEvent('event', event as EventObject);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#status !== 'active') return Promise.reject(this.#refusal());
    return new Promise<DurableSendResult>((resolve, reject) =>
      this.#enqueue({ record: { kind: 'event', target, event: copy.event }, eventText: copy.text, ...(idempotencyKey === undefined ? {} : { idempotencyKey }), settle: { resolve, reject } }),
    );
  }

  #refusal(): Error {
    if (this.#status === 'fenced') return new ActorFencedError(this.id, this.#failure);
    return new ActorStoppedError(this.id, this.#status === 'active' ? 'stopped' : this.#status, this.#failure);
  }

  #enqueue(pending: Pending): void {
    if (this.#status !== 'active' && pending.record.kind !== 'actionError') {
      pending.settle?.reject(this.#refusal());
      return;
    }
    this.#queue.push(pending);
    if (this.#pumping === undefined) void this.#pump();
  }

  #pump(): Promise<void> {
    if (this.#pumping !== undefined || this.#queue.length === 0) return this.#pumping ?? Promise.resolve();
    this.#pumping = this.#drain().finally(() => {
      this.#pumping = undefined;
      // An input that arrived after the drain's last look (a promise settling meanwhile) starts the next one.
      if (this.#queue.length > 0 && this.#failure === undefined) void this.#pump();
    });
    return this.#pumping;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      let batch = this.#takeBatch();
      const at = this.#clock.now();
      let records: (InputRecord | Extract<JournalRecord, { kind: 'actionError' }>)[] = [];
      let first = this.#seq;
      try {
        for (;;) {
          records = batch.map(({ record }) => (record.kind === 'event' ? { ...record, at } : record));
          first = this.#seq;
          const payloads = records.map((record, index) => encodeRecord(record, batch[index]!.eventText));
          const duplicate = await this.#append(payloads, batch.map((pending) => pending.idempotencyKey));
          if (duplicate === undefined) break;
          // An event with this key is in the journal already: it is not applied again; the rest commit without it.
          batch[duplicate]!.settle?.resolve(DUPLICATE);
          batch = batch.filter((_, index) => index !== duplicate);
        }
      } catch (error) {
        for (const pending of [...batch, ...this.#queue.splice(0)]) pending.settle?.reject(error);
        return;
      }
      records.forEach((record, index) => {
        if (record.kind === 'actionError') return;
        if (this.#status === 'active' || this.#status === 'done' || this.#status === 'error') {
          this.#gate.beginInput(record.at, undefined);
          this.#gate.deliver(record);
          this.#afterInput(first + index, this.#gate.endInput());
        }
        batch[index]!.settle?.resolve(JOURNALED);
      });
      // Checked here, not inside an async call: nearly every write needs no snapshot, and an await costs a promise and a hop.
      if (this.#snapshotDue()) await this.#snapshot();
    }
  }

  /**
   * The queue's inputs for one journal write. A keyed event whose key is
   * already in the batch waits for the next write, where the first one's
   * receipt turns it into a duplicate.
   */
  #takeBatch(): Pending[] {
    const queue = this.#queue;
    this.#queue = [];
    // One input (an awaited send): nothing to sort out.
    if (queue.length === 1) return queue;
    const keys = new Set<string>();
    const batch: Pending[] = [];
    const later: Pending[] = [];
    for (const pending of queue) {
      const key = pending.idempotencyKey;
      if (key !== undefined && keys.has(key)) later.push(pending);
      else {
        if (key !== undefined) keys.add(key);
        batch.push(pending);
      }
    }
    this.#queue = later;
    return batch;
  }

  #afterInput(inputSeq: number, errors: readonly { ordinal: number; error: unknown }[]): void {
    for (const { ordinal, error } of errors) {
      this.#queue.push({ record: { kind: 'actionError', inputSeq, ordinal, error: roundTrip('action error', error instanceof Error ? error : String(error)) } });
    }
    this.#syncStatus();
  }

  #syncStatus(): void {
    const status = (this.#actor.getSnapshot() as { status: string }).status;
    if (this.#status === 'active' && (status === 'done' || status === 'error')) this.#status = status;
  }

  /**
   * Appends encoded records at the journal's expected length (a newer owner's mark
   * makes it conflict: fenced). Records with an idempotency key (`keys[i]`)
   * go in one `commit` with each key's dedup receipt (`DedupCache.receiptOp`,
   * the library's one idempotency path): either the events and their
   * receipts are stored together or nothing is, so across any crash a key is
   * journaled at most once. Returns the index of a record whose key was seen
   * before (nothing was written), or undefined once written.
   */
  async #append(payloads: readonly Uint8Array[], keys: readonly (string | undefined)[] = []): Promise<number | undefined> {
    try {
      if (keys.some((key) => key !== undefined)) {
        const now = this.#clock.now();
        const receipts = new Map<number, number>();
        const ops: WriteOp[] = [{ op: 'append', stream: this.#journal, payloads, expectedSeq: this.#seq }];
        keys.forEach((key, index) => {
          if (key === undefined) return;
          receipts.set(ops.length, index);
          ops.push(this.#eventKeys.receiptOp(key, encoder.encode(String(this.#seq + index)), now));
        });
        try {
          await this.#store.commit(ops);
        } catch (error) {
          if (!(error instanceof CommitConflictError)) throw error;
          const duplicate = receipts.get(error.index);
          if (duplicate !== undefined) return duplicate;
          throw error.cause;
        }
      }
      // A lone entry takes the store's single-append path, which PostgreSQL group-commits across callers.
      else if (payloads.length === 1) await this.#store.append(this.#journal, payloads[0]!, this.#seq);
      else await this.#store.appendMany(this.#journal, payloads, this.#seq);
    } catch (error) {
      this.#failure = error;
      this.#status = error instanceof SequenceConflictError ? 'fenced' : 'broken';
      this.#gate.stop();
      throw error instanceof SequenceConflictError ? new ActorFencedError(this.id, error) : new ActorStoppedError(this.id, 'broken', error);
    }
    this.#seq += payloads.length;
    return undefined;
  }

  #snapshotDue(): boolean {
    return this.#seq - this.#snapshotSeq >= this.#snapshotEvery && this.#queue.length === 0 && !this.#gate.hasInlineChild();
  }

  async #snapshot(): Promise<void> {
    let record: SnapshotRecord;
    try {
      record = {
        kind: 'snapshot',
        coversSeq: this.#seq,
        persisted: roundTrip('snapshot', this.#actor.getPersistedSnapshot()),
        timers: this.#gate.scheduler.table(),
        uids: this.#gate.uids(),
        nextUid: this.#gate.nextUid,
        nextTimer: this.#gate.scheduler.nextTimer,
      };
    } catch {
      // State that is not JSON cannot be snapshotted: recovery replays from the previous snapshot.
      return;
    }
    this.#snapshotSeq = this.#seq;
    try {
      await this.#store.append(this.#snapshots, encodeRecord(record), this.#snapshotCount);
      this.#snapshotCount += 1;
    } catch {
      // A snapshot only shortens recovery; the journal stays the truth. Re-read the count for the next one.
      this.#snapshotCount = await this.#store.streamLength(this.#snapshots).catch(() => this.#snapshotCount);
    }
  }
}
