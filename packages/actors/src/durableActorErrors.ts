import { LiminalError } from '@liminal/store';

/**
 * The journal was written by a machine version this process was not given:
 * reopening it with another definition could replay its events into
 * different states. Pass the old definition in `versions` to keep the actor on
 * the machine it started with. Nothing was run.
 */
export class VersionMismatchError extends LiminalError {
  readonly code = 'VERSION_MISMATCH';

  constructor(
    readonly actorId: string,
    readonly recorded: string | null,
    readonly requested: string | null,
    readonly known: readonly string[],
  ) {
    super(
      `${JSON.stringify(actorId)} was started on version ${JSON.stringify(recorded)}; this process runs ${JSON.stringify(requested)} and knows ${JSON.stringify(known)}`,
    );
  }
}

/** The journal belongs to another machine (its `id` differs): nothing was run. */
export class JournalMismatchError extends LiminalError {
  readonly code = 'JOURNAL_MISMATCH';

  constructor(
    readonly actorId: string,
    readonly recordedMachineId: string,
    readonly machineId: string,
  ) {
    super(`durable actor ${JSON.stringify(actorId)} was journaled by machine ${JSON.stringify(recordedMachineId)}, not ${JSON.stringify(machineId)}`);
  }
}

/**
 * Another instance opened the same durable actor and wrote to its journal
 * after this one read it: this instance stopped and wrote nothing more
 * (`cause` is the store's `SequenceConflictError`). Reopen to continue.
 */
export class ActorFencedError extends LiminalError {
  readonly code = 'ACTOR_FENCED';

  constructor(
    readonly actorId: string,
    cause: unknown,
  ) {
    super(`durable actor ${JSON.stringify(actorId)} is owned by a newer instance; this one stopped`, { cause });
  }
}

/**
 * The durable actor no longer takes events: it was stopped, reached a final
 * state, failed, or lost its journal (`cause`: the write error that broke it).
 */
export class ActorStoppedError extends LiminalError {
  readonly code = 'ACTOR_STOPPED';

  constructor(
    readonly actorId: string,
    readonly status: 'stopped' | 'done' | 'error' | 'broken',
    cause?: unknown,
  ) {
    super(`durable actor ${JSON.stringify(actorId)} is ${status}`, cause === undefined ? undefined : { cause });
  }
}
