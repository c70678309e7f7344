import type { AnyActorLogic, EventObject, InspectionEvent, Observer, Snapshot, Subscription } from 'xstate';

/*
 * The parts of XState's Actor and system that a durable actor steers. They
 * are not in XState's typings, but every actor of a system is built by
 * `createActor` and exposes them (xstate 5.x, `Actor` in createActor.ts and
 * `createSystem` in system.ts); `test/durableActor/*.test.ts` pins each use.
 */

export interface ExecutableAction {
  readonly type: string;
  readonly info: unknown;
  readonly params: unknown;
  readonly exec: ((info: unknown, params: unknown) => void) | undefined;
}

export interface ActorScope {
  readonly self: InternalActor;
  readonly system: InternalSystem;
  actionExecutor: (action: ExecutableAction) => void;
}

export interface Scheduler {
  schedule(source: InternalActor, target: InternalActor, event: EventObject, delay: number, id: string | undefined): void;
  cancel(source: InternalActor, id: string): void;
  cancelAll(source: InternalActor): void;
}

export interface InternalSystem {
  scheduler: Scheduler;
  _bookId: () => string;
  _sendInspectionEvent(event: InspectionEvent): void;
  _relay(source: InternalActor | undefined, target: InternalActor, event: EventObject): void;
  get(systemId: string): InternalActor | undefined;
}

export interface InternalActor {
  readonly id: string;
  send(event: EventObject): void;
  getSnapshot(): Snapshot<unknown> & { readonly children?: Record<string, InternalActor> };
  subscribe(observer: Observer<unknown> | ((snapshot: unknown) => void)): Subscription;
  readonly _parent: InternalActor | undefined;
  readonly _actorScope: ActorScope;
  logic: AnyActorLogic;
  readonly system: InternalSystem;
  readonly _processingStatus: number;
}

/** `ProcessingStatus.Running` in XState's createActor.ts. */
export const RUNNING = 1;

export function actorOf(event: InspectionEvent): InternalActor {
  return event.actorRef as unknown as InternalActor;
}

/** A state machine (as opposed to promise, callback, observable or transition logic). */
export function isMachineLogic(logic: unknown): boolean {
  return typeof logic === 'object' && logic !== null && typeof (logic as { getStateNodeById?: unknown }).getStateNodeById === 'function';
}
