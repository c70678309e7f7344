import { cursorKeyFor } from '@liminal/durability';
import { CasConflictError, DecodeError, type DurableStore } from '@liminal/store';
import { UsageError } from './errors.js';
import { currentRunKey, RunNames } from './names.js';

/** What a run was started with; stored once, so a resumed run uses the same orders and partitions. */
export interface RunSettings {
  readonly messages: number;
  readonly partitions: number;
  readonly seed: number;
}

export interface Run extends RunSettings {
  readonly run: number;
  readonly names: RunNames;
}

/** The settings the user typed, and which of them were typed explicitly (the others may come from a stored run). */
export interface RequestedRun {
  readonly settings: RunSettings;
  readonly explicit: ReadonlySet<keyof RunSettings>;
  readonly reset: boolean;
}

export type RunStart =
  | { readonly kind: 'new'; readonly run: Run; readonly previous: 'none' | 'finished' | 'reset' }
  | { readonly kind: 'resumed'; readonly run: Run };

/** The run recorded as current, or `undefined` when the store has never held one. */
export async function currentRun(store: DurableStore): Promise<Run | undefined> {
  const run = await store.readValue(currentRunKey);
  if (run === undefined || run === 0) return undefined;
  const names = new RunNames(run);
  const [entry] = await store.readFrom(names.manifest, 0, 1);
  if (entry === undefined) throw new DecodeError(`run ${run} has no manifest`);
  return { ...decodeSettings(entry.payload), run, names };
}

/** The offset the run's consumer of `partition` has committed (0 before its first commit). */
export async function committedOffset(store: DurableStore, run: Run, partition: number): Promise<number> {
  return (await store.readValue(cursorKeyFor(run.names.consumerId, run.names.channel, partition))) ?? 0;
}

/**
 * Resumes the current run if it is unfinished, otherwise starts a new one.
 * Resuming with explicitly different settings is refused (the orders already
 * published were made with the stored ones) unless `--reset` is given.
 */
export async function startOrResume(
  store: DurableStore,
  requested: RequestedRun,
  isFinished: (run: Run) => Promise<boolean>,
): Promise<RunStart> {
  const existing = await currentRun(store);
  if (existing !== undefined && !requested.reset && !(await isFinished(existing))) {
    const conflicts = [...requested.explicit].filter((key) => requested.settings[key] !== existing[key]);
    if (conflicts.length > 0) {
      const stored = conflicts.map((key) => `--${key} ${existing[key]}`).join(', ');
      throw new UsageError(`the store holds unfinished run ${existing.run} with ${stored}; rerun with those values to resume it, or add --reset`);
    }
    return { kind: 'resumed', run: existing };
  }
  const previousRun = existing?.run ?? 0;
  const run = previousRun + 1;
  const names = new RunNames(run);
  // Manifest first, then the pointer: a crash in between leaves an orphan manifest, never a run without one.
  await store.deleteStream(names.manifest);
  await store.append(names.manifest, encodeSettings(requested.settings), 0);
  try {
    await store.cas(currentRunKey, previousRun, run);
  } catch (error) {
    if (error instanceof CasConflictError) throw new UsageError('another demo started a run in this store at the same moment; try again');
    throw error;
  }
  const previous = existing === undefined ? 'none' : requested.reset ? 'reset' : 'finished';
  return { kind: 'new', run: { ...requested.settings, run, names }, previous };
}

function encodeSettings(settings: RunSettings): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(settings));
}

function decodeSettings(payload: Uint8Array): RunSettings {
  const value = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  const { messages, partitions, seed } = value;
  if (!Number.isSafeInteger(messages) || !Number.isSafeInteger(partitions) || !Number.isSafeInteger(seed)) {
    throw new DecodeError('run manifest does not hold messages, partitions and seed');
  }
  return { messages: messages as number, partitions: partitions as number, seed: seed as number };
}
