import { DecodeError } from '@liminal/store';

/** How a step's output is stored in durable mode (and decoded when the step is replayed). */
export interface StepCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface StepOptions<T> {
  /**
   * Undoes the step. Under the `compensate` crash policy the conversation runs
   * the registered compensations in reverse order, each once.
   */
  readonly compensate?: (output: T) => void | Promise<void>;
  /** Defaults to `jsonCodec` (any JSON value, or `undefined`). */
  readonly codec?: StepCodec<T>;
}

/**
 * What a participant uses to run the side effects of one message. Steps are
 * numbered by call order, so a participant must call them in the same order
 * on every attempt; the name is for people reading logs and errors.
 *
 * In durable mode a step that completed on an earlier attempt (before a
 * participant crash, a supervisor restart or a process restart) is not run
 * again: `step` returns its recorded output.
 */
export interface StepContext {
  readonly messageId: string;
  step<T>(name: string, run: () => T | Promise<T>, options?: StepOptions<T>): Promise<T>;
}

/** A compensation registered by a completed step. */
export interface CompensationRegistration {
  readonly messageId: string;
  readonly stepIndex: number;
  readonly step: string;
  readonly run: () => Promise<void>;
}

export type RegisterCompensation = (registration: CompensationRegistration) => void;

/** One step of a participant, as `onStep` observers see it (for latency metrics, logs, traces). */
export type StepEvent =
  /** The step ran and its output was recorded (durable) or returned (ephemeral). */
  | { readonly kind: 'completed'; readonly messageId: string; readonly step: string; readonly stepIndex: number; readonly durationMs: number }
  /** The step ran and threw. */
  | { readonly kind: 'failed'; readonly messageId: string; readonly step: string; readonly stepIndex: number; readonly durationMs: number; readonly error: unknown }
  /** Durable mode: the step completed on an earlier attempt; its recorded output was reused and nothing ran. */
  | { readonly kind: 'replayed'; readonly messageId: string; readonly step: string; readonly stepIndex: number };

export type StepObserver = (event: StepEvent) => void;

/**
 * Runs a step's side effect, telling `observe` how long it took and whether it
 * threw. An observer is for watching: whatever it throws is ignored, so a
 * broken metrics hook never fails a participant.
 */
export async function observedRun<T>(
  run: () => T | Promise<T>,
  where: { readonly messageId: string; readonly step: string; readonly stepIndex: number },
  observe: StepObserver | undefined,
): Promise<T> {
  if (observe === undefined) return run();
  const started = performance.now();
  try {
    const output = await run();
    notify(observe, { kind: 'completed', ...where, durationMs: performance.now() - started });
    return output;
  } catch (error) {
    notify(observe, { kind: 'failed', ...where, durationMs: performance.now() - started, error });
    throw error;
  }
}

export function notify(observe: StepObserver | undefined, event: StepEvent): void {
  try {
    observe?.(event);
  } catch {
    // See observedRun: observers cannot fail a step.
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON in a `{"v": value}` wrapper, so `undefined` survives the round trip. */
export const jsonCodec: StepCodec<unknown> = {
  encode: (value) => encoder.encode(JSON.stringify({ v: value })),
  decode: (bytes) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new DecodeError('step output is not UTF-8 JSON', { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DecodeError('step output is not a {"v": value} record');
    }
    return (parsed as { v?: unknown }).v;
  },
};

export function codecOf<T>(options: StepOptions<T> | undefined): StepCodec<T> {
  return options?.codec ?? (jsonCodec as StepCodec<T>);
}

export function compensationOf<T>(
  messageId: string,
  stepIndex: number,
  step: string,
  output: T,
  options: StepOptions<T> | undefined,
): CompensationRegistration | undefined {
  const compensate = options?.compensate;
  if (compensate === undefined) return undefined;
  return { messageId, stepIndex, step, run: async () => compensate(output) };
}

/** Ephemeral mode: every step runs; nothing is recorded. */
export function ephemeralSteps(messageId: string, register: RegisterCompensation, observe?: StepObserver): StepContext {
  let nextIndex = 0;
  return {
    messageId,
    async step(name, run, options) {
      const index = nextIndex++;
      const output = await observedRun(run, { messageId, step: name, stepIndex: index }, observe);
      const compensation = compensationOf(messageId, index, name, output, options);
      if (compensation !== undefined) register(compensation);
      return output;
    },
  };
}
