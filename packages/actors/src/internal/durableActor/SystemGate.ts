import type { AnyActorLogic, EventObject, InspectionEvent, Observer } from 'xstate';
import type { Clock } from '@liminal/durability';
import { DurableScheduler } from './DurableScheduler.js';
import type { Address, InputRecord, TimerRecord } from './records.js';
import { actorOf, type ExecutableAction, type InternalActor, type InternalSystem, isMachineLogic, RUNNING } from './xstateInternals.js';

/**
 * An input a non-machine child produced, or a timer that fired (journaled at
 * its deadline, so a chain of delays does not drift): not yet delivered.
 */
export type ProducedInput = Omit<Extract<InputRecord, { kind: 'event' }>, 'at'> | Extract<InputRecord, { kind: 'timer' }>;

export type GateMode = 'replay' | 'live' | 'stopped';

/**
 * Everything that makes one XState actor system replayable. It is installed
 * through XState's `inspect` option, whose `@xstate.actor` event reaches us
 * for every actor of the system before that actor computes its first
 * snapshot, and it then:
 *
 * - numbers every actor deterministically (`uid`, and XState's session ids,
 *   which name anonymous spawned children) and gives it a stable address;
 * - replaces the scheduler with a `DurableScheduler`;
 * - wraps every actor's action executor: in `replay` mode custom actions,
 *   `emit`, `log` and sends to actors outside the system do not run (a custom
 *   action that threw when its event was live throws the recorded error
 *   again, so XState takes the same error path); builtin actions that change
 *   the system (assign, raise, sendTo inside it, spawn, stop, cancel) run;
 * - wraps the logic of promise, callback and observable children: in
 *   `replay` mode they are not started (their results are in the journal);
 *   live, whatever they send goes to the journal before it is delivered.
 *
 * Machines are deterministic given their inputs, so replaying the journal's
 * inputs through a system in `replay` mode rebuilds every actor's state
 * without running an action twice.
 */
export class SystemGate {
  mode: GateMode = 'replay';
  /** The journal time of the input being processed: delays count from it. */
  now = 0;
  readonly scheduler: DurableScheduler;
  readonly #addresses = new WeakMap<InternalActor, Address>();
  readonly #unstarted = new Set<InternalActor>();
  #root: InternalActor | undefined;
  #nextUid = 1;
  #restoring: Map<string, number> | undefined;
  #restoredSessions = 0;
  #ordinal = 0;
  #replayErrors: ReadonlyMap<number, unknown> | undefined;
  #liveErrors: { ordinal: number; error: unknown }[] = [];

  constructor(
    clock: Clock,
    private readonly produce: (input: ProducedInput) => void,
    private readonly userInspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined,
  ) {
    this.scheduler = new DurableScheduler(clock, (timer) => this.produce(timer));
  }

  /** Pass as `createActor`'s `inspect`. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type === '@xstate.actor') this.#install(actorOf(event));
    if (this.mode === 'live' || event.type === '@xstate.actor') {
      const inspect = this.userInspect;
      if (typeof inspect === 'function') inspect(event);
      else inspect?.next?.(event);
    }
  };

  get nextUid(): number {
    return this.#nextUid;
  }

  /** Actors created until `endRestore` are restored ones: they get the uids the snapshot recorded. */
  beginRestore(uids: Iterable<readonly [string, number]>, nextUid: number, timers: readonly TimerRecord[], nextTimer: number): void {
    this.#restoring = new Map(uids);
    this.#nextUid = nextUid;
    this.scheduler.load(timers, nextTimer);
  }

  endRestore(): void {
    this.#restoring = undefined;
  }

  /** Brackets the processing of journal entry `inputSeq`; `errors` are the recorded action errors by ordinal. */
  beginInput(now: number, errors: ReadonlyMap<number, unknown> | undefined): void {
    this.now = now;
    this.#ordinal = 0;
    this.#replayErrors = errors;
    this.#liveErrors = [];
  }

  endInput(): { ordinal: number; error: unknown }[] {
    this.#replayErrors = undefined;
    return this.#liveErrors;
  }

  addressOf(actor: InternalActor): Address | undefined {
    return this.#addresses.get(actor);
  }

  /** The actor at `address`, if that incarnation is still in the system. */
  resolve(address: Address): InternalActor | undefined {
    let actor = this.#root;
    for (const id of address.path) {
      const children = (actor?.getSnapshot() as { children?: Record<string, InternalActor> } | undefined)?.children;
      actor = children?.[id];
    }
    return actor !== undefined && this.#addresses.get(actor)?.uid === address.uid ? actor : undefined;
  }

  /**
   * Whether a child was spawned from inline logic (not a name in `setup({
   * actors })` nor an inline `invoke`): XState persists it as a logic object
   * it cannot restore (statelyai/xstate#5057), so no snapshot is taken then.
   */
  hasInlineChild(): boolean {
    const visit = (actor: InternalActor): boolean =>
      Object.values(actor.getSnapshot().children ?? {}).some((child) => typeof (child as unknown as { src: unknown }).src !== 'string' || visit(child));
    return this.#root !== undefined && visit(this.#root);
  }

  /** Every live actor's uid by path, for a snapshot. */
  uids(): [string, number][] {
    const out: [string, number][] = [];
    const visit = (actor: InternalActor): void => {
      const address = this.#addresses.get(actor);
      if (address !== undefined) out.push([pathKey(address.path), address.uid]);
      const children = (actor.getSnapshot() as { children?: Record<string, InternalActor> }).children ?? {};
      for (const child of Object.values(children)) visit(child);
    };
    if (this.#root !== undefined) visit(this.#root);
    return out;
  }

  /** Delivers a journaled input (live or replayed); one that no longer has its target is dropped, both ways alike. */
  deliver(input: ProducedInput): void {
    if (input.kind === 'timer') {
      const timer = this.scheduler.take(input.timer);
      if (timer === undefined) return;
      const target = this.resolve(timer.target);
      if (target !== undefined) this.#system().realRelay(this.resolve(timer.source), target, timer.event as EventObject);
      return;
    }
    const target = this.resolve(input.target);
    if (target === undefined) return;
    const source = input.source === undefined ? undefined : this.resolve(input.source);
    if (input.source === undefined) target.send(input.event as EventObject);
    else this.#system().realRelay(source, target, input.event as EventObject);
  }

  /** Replay is over: arm the timers and start the children whose start replay held back (at-least-once). */
  goLive(): void {
    this.mode = 'live';
    this.scheduler.goLive();
    const unstarted = [...this.#unstarted];
    this.#unstarted.clear();
    for (const actor of unstarted) {
      if (actor._processingStatus === RUNNING && actor.getSnapshot().status === 'active') this.#startLive(actor, actor.logic as unknown as StartableLogic);
    }
  }

  stop(): void {
    this.mode = 'stopped';
    this.scheduler.stop();
  }

  #system(): InternalSystem & { realRelay: InternalSystem['_relay'] } {
    return this.#root!.system as InternalSystem & { realRelay: InternalSystem['_relay'] };
  }

  #install(actor: InternalActor): void {
    const parent = actor._parent;
    let address: Address;
    if (parent === undefined) {
      this.#root = actor;
      this.#installSystem(actor.system);
      address = { path: [], uid: 0 };
    } else {
      const parentAddress = this.#addresses.get(parent);
      if (parentAddress === undefined) return; // not of this system
      const path = [...parentAddress.path, actor.id];
      const restored = this.#restoring?.get(pathKey(path));
      address = { path, uid: restored ?? (this.#restoring === undefined ? this.#lastBooked : this.#nextUid++) };
    }
    this.#addresses.set(actor, address);
    const scope = actor._actorScope;
    const execute = scope.actionExecutor;
    scope.actionExecutor = (action) => this.#execute(action, execute);
    if (!isMachineLogic(actor.logic) && typeof actor.logic.start === 'function') actor.logic = this.#gateStart(actor, actor.logic as unknown as StartableLogic) as unknown as AnyActorLogic;
  }

  #lastBooked = 0;

  #installSystem(system: InternalSystem): void {
    const relay = system._relay.bind(system);
    // XState calls the scheduler's methods with the scheduler as `this`, so they reach the gate by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const gate = this;
    Object.assign(system, {
      realRelay: relay,
      // Nobody else inspects: only `@xstate.actor` matters, so XState need not copy and dispatch every microstep, action and event.
      ...(this.userInspect === undefined
        ? {
            _sendInspectionEvent: (event: InspectionEvent) => {
              if (event.type === '@xstate.actor') this.#install(actorOf(event));
            },
          }
        : {}),
      _bookId: () => {
        if (this.#restoring !== undefined) return `x:restored:${this.#restoredSessions++}`;
        this.#lastBooked = this.#nextUid++;
        return `x:${this.#lastBooked}`;
      },
      scheduler: {
        schedule(source: InternalActor, target: InternalActor, event: EventObject, delay: number, id: string | undefined) {
          const from = gate.addressOf(source);
          const to = gate.addressOf(target);
          if (from === undefined || to === undefined) return; // an actor outside the system: not durable
          gate.scheduler.schedule(from, to, event, delay, id, gate.now);
        },
        cancel(source: InternalActor, id: string) {
          const from = gate.addressOf(source);
          if (from !== undefined) gate.scheduler.cancel(from, id);
        },
        cancelAll(source: InternalActor) {
          const from = gate.addressOf(source);
          // Stopping the whole actor (`stop()`) is not journaled: its timers stay in the journal's table.
          if (from !== undefined && gate.mode !== 'stopped') gate.scheduler.cancelAll(from);
        },
      },
    });
  }

  #execute(action: ExecutableAction, execute: (action: ExecutableAction) => void): void {
    if (action.type.startsWith('xstate.')) {
      if (this.mode === 'replay' && (action.type === 'xstate.emit' || action.type === 'xstate.log' || this.#sendsOutside(action))) return;
      execute(action);
      return;
    }
    const ordinal = this.#ordinal++;
    if (this.mode === 'replay') {
      const errors = this.#replayErrors;
      if (errors?.has(ordinal)) {
        const error = errors.get(ordinal);
        execute({ ...action, exec: () => { throw error; } });
      }
      return;
    }
    const exec = action.exec;
    if (exec === undefined) {
      execute(action);
      return;
    }
    execute({
      ...action,
      exec: (info, params) => {
        try {
          exec(info, params);
        } catch (error) {
          this.#liveErrors.push({ ordinal, error });
          throw error;
        }
      },
    });
  }

  #sendsOutside(action: ExecutableAction): boolean {
    if (action.type !== 'xstate.sendTo') return false;
    const to = (action.params as { to?: unknown } | undefined)?.to;
    return typeof to === 'object' && to !== null && (to as InternalActor).system !== this.#root?.system;
  }

  #gateStart(actor: InternalActor, logic: StartableLogic): StartableLogic {
    const gated = Object.create(logic) as StartableLogic;
    gated.start = (snapshot, scope) => {
      if (this.mode === 'replay') this.#unstarted.add(actor);
      else if (this.mode === 'live') logic.start(snapshot, this.#journaledScope(scope));
    };
    return gated;
  }

  #startLive(actor: InternalActor, gated: StartableLogic): void {
    const logic = Object.getPrototypeOf(gated) as StartableLogic;
    logic.start(actor.getSnapshot(), this.#journaledScope(actor._actorScope));
  }

  /** The scope a non-machine child runs with: what it relays (its results, `sendBack`) is journaled first. */
  #journaledScope(scope: StartScope): StartScope {
    const system = Object.create(scope.system) as InternalSystem;
    system._relay = (source, target, event) => {
      const from = source === undefined ? undefined : this.addressOf(source);
      const to = this.addressOf(target);
      if (this.mode !== 'live') return;
      if (to === undefined) {
        this.#system().realRelay(source, target, event);
        return;
      }
      this.produce({ kind: 'event', target: to, ...(from === undefined ? {} : { source: from }), event });
    };
    return { ...scope, system };
  }
}

type StartScope = InternalActor['_actorScope'];
interface StartableLogic {
  start(snapshot: unknown, scope: StartScope): void;
}

export function pathKey(path: readonly string[]): string {
  return JSON.stringify(path);
}
