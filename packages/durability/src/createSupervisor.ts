import { ConfigError } from '@liminal/store';
import { enqueueActions, setup, type AnyActorLogic, type AnyActorRef, type DoneActorEvent, type ErrorActorEvent, type InspectionEvent } from 'xstate';
import { SupervisorEscalationError } from './errors.js';

/** Which children a crash restarts (Erlang/OTP semantics). */
export type RestartStrategy =
  /** Only the child that exited. */
  | 'oneForOne'
  /** Every child. */
  | 'oneForAll'
  /** The child that exited and every child listed after it. */
  | 'restForOne';

const strategies: readonly RestartStrategy[] = ['oneForOne', 'oneForAll', 'restForOne'];

/** When a child is restarted. */
export type RestartType =
  /** Always, whether it crashed or finished. */
  | 'permanent'
  /** Only after a crash (an `xstate.error.actor` event); a normal finish ends it. */
  | 'transient'
  /** Never; it is also not restarted when a sibling's crash restarts the others. */
  | 'temporary';

const restartTypes: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

export interface ChildSpec {
  /** Unique among the supervisor's children; also the child's XState actor id. */
  readonly id: string;
  readonly logic: AnyActorLogic;
  readonly input?: unknown;
  /** Defaults to `permanent`. */
  readonly restart?: RestartType;
}

export interface SupervisorOptions {
  readonly strategy: RestartStrategy;
  /** Restarts allowed within `periodMs`; one more escalates. Defaults to 3. */
  readonly intensity?: number;
  /** Defaults to 5000. */
  readonly periodMs?: number;
  /** Started in this order; restarted in this order. */
  readonly children: readonly ChildSpec[];
  /**
   * Where restart times come from (epoch ms); `Date.now` when absent. Tests
   * pass a manual clock to drive the intensity window without faking `Date`.
   */
  readonly now?: () => number;
}

/** What a supervisor emits (`actor.on(type, ...)`) and what `supervisionEvent` finds in XState inspection. */
export type SupervisorEvent =
  | { readonly type: 'supervisor.crash'; readonly supervisor: string; readonly child: string; readonly error: unknown }
  | { readonly type: 'supervisor.exit'; readonly supervisor: string; readonly child: string }
  | { readonly type: 'supervisor.restart'; readonly supervisor: string; readonly child: string; readonly cause: string }
  | { readonly type: 'supervisor.escalate'; readonly supervisor: string; readonly child: string; readonly error: SupervisorEscalationError };

interface SupervisorContext {
  readonly specs: readonly ChildSpec[];
  readonly strategy: RestartStrategy;
  readonly intensity: number;
  readonly periodMs: number;
  /** Wrapped in an object: XState's `assign` would call a function-valued context property. */
  readonly clock: { readonly now: () => number };
  /** Ids of the children currently running, in spec order. */
  readonly running: readonly string[];
  /** Times (epoch ms) of the restarts still inside the intensity window. */
  readonly restarts: readonly number[];
  /** Set when the intensity was exceeded; the supervisor fails with it on its next step. */
  readonly escalation: SupervisorEscalationError | undefined;
}

type SupervisorMachineEvent =
  | DoneActorEvent<unknown, string>
  | ErrorActorEvent<unknown, string>
  | { readonly type: 'supervisor.fail' };

/**
 * An OTP-style supervisor as XState actor logic: run it with `createActor`
 * or make it the child of another supervisor (supervisors nest). A child
 * exit is an `xstate.done.actor.<id>` (normal) or `xstate.error.actor.<id>`
 * (crash). When more than `intensity` restarts happen within `periodMs`, the
 * supervisor stops every child and fails with `SupervisorEscalationError`, which
 * its parent receives as that supervisor's crash.
 */
export function createSupervisor(options: SupervisorOptions) {
  const intensity = options.intensity ?? 3;
  const periodMs = options.periodMs ?? 5000;
  if (!Number.isSafeInteger(intensity) || intensity < 0) throw new ConfigError(`intensity must be a non-negative safe integer, got ${intensity}`);
  if (!Number.isSafeInteger(periodMs) || periodMs <= 0) throw new ConfigError(`periodMs must be a positive safe integer, got ${periodMs}`);
  if (!strategies.includes(options.strategy)) {
    throw new ConfigError(`strategy must be one of ${strategies.join(', ')}, got ${JSON.stringify(options.strategy)}`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new ConfigError('now must be a function returning epoch milliseconds');
  // Checked as unknown: Array.isArray would narrow the typed specs to any[].
  const children: unknown = options.children;
  if (!Array.isArray(children)) throw new ConfigError('children must be an array of child specs');
  const ids = new Set<string>();
  for (const child of options.children) {
    if (typeof child?.id !== 'string' || child.id === '') throw new ConfigError(`every child needs a non-empty string id, got ${JSON.stringify(child?.id)}`);
    if (child.restart !== undefined && !restartTypes.includes(child.restart)) {
      throw new ConfigError(`child ${JSON.stringify(child.id)}: restart must be one of ${restartTypes.join(', ')}, got ${JSON.stringify(child.restart)}`);
    }
    if (ids.has(child.id)) throw new ConfigError(`child id ${JSON.stringify(child.id)} is used twice`);
    ids.add(child.id);
  }
  const specs = [...options.children];

  return setup({
    types: {
      context: {} as SupervisorContext,
      events: {} as SupervisorMachineEvent,
      emitted: {} as SupervisorEvent,
    },
  }).createMachine({
    id: 'supervisor',
    context: {
      specs,
      strategy: options.strategy,
      intensity,
      periodMs,
      clock: { now: options.now ?? Date.now },
      running: specs.map((spec) => spec.id),
      restarts: [],
      escalation: undefined,
    },
    entry: enqueueActions(({ context, enqueue }) => {
      for (const spec of context.specs) spawn(enqueue, spec);
    }),
    on: {
      'xstate.done.actor.*': { actions: enqueueActions(({ context, event, enqueue, self }) => onExit(context, event.actorId, { kind: 'normal' }, enqueue, self)) },
      'xstate.error.actor.*': {
        actions: enqueueActions(({ context, event, enqueue, self }) => onExit(context, event.actorId, { kind: 'crash', error: event.error }, enqueue, self)),
      },
      // Failing the machine is how XState tells the parent: it receives
      // `xstate.error.actor.<this supervisor>` and applies its own strategy.
      'supervisor.fail': {
        actions: ({ context }) => {
          if (context.escalation !== undefined) throw context.escalation;
        },
      },
    },
  });
}

type Exit = { readonly kind: 'normal' } | { readonly kind: 'crash'; readonly error: unknown };

/** The slice of XState's enqueuer used here; child logic is only known at run time. */
interface Enqueue {
  assign(context: Partial<SupervisorContext>): void;
  spawnChild(src: AnyActorLogic, options: { id: string; input?: unknown }): void;
  stopChild(id: string): void;
  emit(event: SupervisorEvent): void;
  sendTo(target: AnyActorRef, event: SupervisorMachineEvent): void;
}

function spawn(enqueue: unknown, spec: ChildSpec): void {
  (enqueue as Enqueue).spawnChild(spec.logic, spec.input === undefined ? { id: spec.id } : { id: spec.id, input: spec.input });
}

function onExit(context: SupervisorContext, child: string, exit: Exit, looseEnqueue: unknown, self: AnyActorRef): void {
  const enqueue = looseEnqueue as Enqueue;
  const supervisor = self.id;
  const spec = context.specs.find((candidate) => candidate.id === child);
  if (spec === undefined || !context.running.includes(child)) return;
  // An exited child stays in `children` (status done/error) until stopped.
  enqueue.stopChild(child);
  enqueue.emit(
    exit.kind === 'crash' ? { type: 'supervisor.crash', supervisor, child, error: exit.error } : { type: 'supervisor.exit', supervisor, child },
  );
  const restartType = spec.restart ?? 'permanent';
  const restartIt = restartType === 'permanent' || (restartType === 'transient' && exit.kind === 'crash');
  if (!restartIt) {
    enqueue.assign({ running: context.running.filter((id) => id !== child) });
    return;
  }

  const now = context.clock.now();
  const restarts = [...context.restarts.filter((at) => at > now - context.periodMs), now];
  if (restarts.length > context.intensity) {
    const error = new SupervisorEscalationError(supervisor, child, context.intensity, context.periodMs, exit.kind === 'crash' ? exit.error : undefined);
    for (const id of [...context.running].reverse()) if (id !== child) enqueue.stopChild(id);
    enqueue.assign({ running: [], restarts, escalation: error });
    enqueue.emit({ type: 'supervisor.escalate', supervisor, child, error });
    // Fail in a separate step: a throw here would discard this step's emitted
    // events (XState delivers them after the step), hiding the crash and escalation.
    enqueue.sendTo(self, { type: 'supervisor.fail' });
    return;
  }

  const position = context.specs.indexOf(spec);
  const affected = context.specs.filter((candidate, index) => {
    if (candidate.id === child) return true;
    if (!context.running.includes(candidate.id)) return false;
    if (context.strategy === 'oneForAll') return true;
    return context.strategy === 'restForOne' && index > position;
  });
  // Siblings stop newest first, like OTP; the exited child is already gone.
  for (const sibling of [...affected].reverse()) if (sibling.id !== child) enqueue.stopChild(sibling.id);
  const restarted = affected.filter((candidate) => candidate.id === child || (candidate.restart ?? 'permanent') !== 'temporary');
  const stoppedForGood = new Set(affected.filter((candidate) => !restarted.includes(candidate)).map((candidate) => candidate.id));
  for (const sibling of restarted) {
    spawn(enqueue, sibling);
    enqueue.emit({ type: 'supervisor.restart', supervisor, child: sibling.id, cause: child });
  }
  enqueue.assign({ running: context.running.filter((id) => !stoppedForGood.has(id)), restarts });
}

/**
 * The supervision event carried by an XState inspection event, if any: pass
 * `(event) => { const s = supervisionEvent(event); ... }` as `inspect` to see
 * every supervisor in an actor system, nested ones included.
 */
export function supervisionEvent(event: InspectionEvent): SupervisorEvent | undefined {
  if (event.type !== '@xstate.action' || event.action.type !== 'xstate.emit') return undefined;
  const emitted = (event.action.params as { event?: { type?: unknown } } | undefined)?.event;
  return typeof emitted?.type === 'string' && emitted.type.startsWith('supervisor.') ? (emitted as SupervisorEvent) : undefined;
}
