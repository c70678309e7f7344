import { ConfigError, DecodeError } from '@liminal/store';

/** How a step's output is stored in durable mode (and decoded when the step is replayed). */
export interface StepCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface StepOptions<T> {
  /**
   * Undoes the step. Under the `compensate` crash policy the conversation runs
   * the registered compensations in reverse order, each once.
   *
   * A string names a handler of `openConversation({ compensations })`; durable
   * mode accepts only names, because a closure cannot be found again by a new
   * process, while a name is recorded with the step (and the output is then
   * stored as JSON, so such a step keeps the default codec).
   */
  readonly compensate?: ((output: T) => void | Promise<void>) | string;
  /** Defaults to `jsonCodec` (any JSON value, or `undefined`). */
  readonly codec?: StepCodec<T>;
}

/**
 * What a participant uses to run the side effects of one message. Steps are
 * numbered by call order and identified by name: in durable mode each step's
 * name is recorded with its output, and a replay that asks for another name
 * at a recorded position (steps reordered, renamed, inserted or removed) is a
 * `NonDeterminismError` before anything runs.
 *
 * In durable mode a step that completed on an earlier attempt (before a
 * participant crash, a supervisor restart or a process restart) is not run
 * again: `step` returns its recorded output.
 */
export interface StepContext {
  readonly messageId: string;
  step<T>(name: string, run: () => T | Promise<T>, options?: StepOptions<T>): Promise<T>;
  /**
   * A durable timer: waits `ms` from the first time this step runs. Durable
   * mode records the wake-up time before waiting, so a process restarted
   * during the sleep waits only what is left of it, and an overdue timer
   * fires at once.
   */
  sleep(name: string, ms: number): Promise<void>;
  /** Waits until `epochMs` (by the injected clock); recorded like `sleep`. */
  sleepUntil(name: string, epochMs: number): Promise<void>;
}

/** The clock of durable timers: injected in tests (a `SimulatedClock` has both), the system clock by default. */
export interface StepTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
}

export const systemTimers: StepTimers = { now: () => Date.now(), setTimeout: (callback, ms) => setTimeout(callback, ms) };

/** Resolves once `timers.now()` reaches `wakeAt` (at once when it already has). */
export function waitUntil(timers: StepTimers, wakeAt: number): Promise<void> {
  const remaining = wakeAt - timers.now();
  if (remaining <= 0) return Promise.resolve();
  return new Promise((resolve) => timers.setTimeout(resolve, remaining));
}

/** A sleep's duration or deadline must be a non-negative safe integer. */
export function assertTimer(name: string, field: string, value: number): void {
  if (typeof name !== 'string' || name === '') throw new ConfigError(`a timer needs a non-empty name, got ${JSON.stringify(name)}`);
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`timer ${JSON.stringify(name)}: ${field} must be a non-negative safe integer, got ${String(value)}`);
}

/** A compensation registered by a completed step. */
export interface CompensationRegistration {
  readonly messageId: string;
  readonly stepIndex: number;
  readonly step: string;
  readonly run: () => Promise<void>;
}

export type RegisterCompensation = (registration: CompensationRegistration) => void;

/** Where a named compensation comes from, given to its handler. */
export interface CompensationInfo {
  readonly messageId: string;
  readonly participant: string;
  readonly step: string;
  readonly stepIndex: number;
}

/** Undoes a step: gets the step's output (as JSON in durable mode) and where it was recorded. */
export type CompensationHandler = (output: unknown, info: CompensationInfo) => void | Promise<void>;

/** Named compensations, shared by every participant of a conversation. */
export type CompensationRegistry = Readonly<Record<string, CompensationHandler>>;

/** What became of one compensation; `interrupted` means its process stopped while it ran, so whether it took effect is unknown. */
export type CompensationOutcome =
  | { readonly kind: 'compensated'; readonly attempts: number }
  | { readonly kind: 'failed'; readonly attempts: number; readonly error: unknown }
  | { readonly kind: 'interrupted' };

export interface CompensationResult {
  readonly participant: string;
  readonly messageId: string;
  readonly step: string;
  readonly stepIndex: number;
  /** The handler's name, or `undefined` for an inline (ephemeral) closure. */
  readonly compensation: string | undefined;
  readonly outcome: CompensationOutcome;
}

/** How many times a throwing compensation is tried before it is recorded as failed. */
export const DEFAULT_COMPENSATION_ATTEMPTS = 3;

/**
 * Runs a compensation up to `attempts` times: a throw is retried at once, the
 * last error is what a `failed` outcome reports. Never throws.
 */
export async function attemptCompensation(run: () => void | Promise<void>, attempts: number): Promise<CompensationOutcome> {
  let error: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await run();
      return { kind: 'compensated', attempts: attempt };
    } catch (caught) {
      error = caught;
    }
  }
  return { kind: 'failed', attempts, error };
}

/** The handler a step's `compensate` option names, or a ConfigError before the step runs. */
export function namedHandler(registry: CompensationRegistry | undefined, name: string, step: string): CompensationHandler {
  const handler = registry !== undefined && Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (typeof handler !== 'function') {
    throw new ConfigError(`step ${JSON.stringify(step)}: no compensation named ${JSON.stringify(name)} (register it with openConversation({ compensations }))`);
  }
  return handler;
}
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

/** A completed step's compensation, resolved: an inline closure, or a handler found by name. */
export function compensationOf<T>(
  info: CompensationInfo,
  output: T,
  options: StepOptions<T> | undefined,
  registry: CompensationRegistry | undefined,
): CompensationRegistration | undefined {
  const compensate = options?.compensate;
  if (compensate === undefined) return undefined;
  const { messageId, stepIndex, step } = info;
  if (typeof compensate === 'function') return { messageId, stepIndex, step, run: async () => compensate(output) };
  const handler = namedHandler(registry, compensate, step);
  return { messageId, stepIndex, step, run: async () => handler(output, info) };
}

/** Refuses a `compensate` option that is neither a function nor a non-empty string. */
export function assertCompensateOption(step: string, compensate: unknown): void {
  if (compensate === undefined || typeof compensate === 'function' || (typeof compensate === 'string' && compensate !== '')) return;
  throw new ConfigError(`step ${JSON.stringify(step)}: compensate must be a function or a compensation name`);
}

/** Ephemeral mode: every step runs; nothing is recorded. */
export function ephemeralSteps(
  messageId: string,
  participant: string,
  register: RegisterCompensation,
  observe: StepObserver | undefined,
  registry: CompensationRegistry | undefined,
  timers: StepTimers = systemTimers,
): StepContext {
  let nextIndex = 0;
  return {
    messageId,
    async sleep(name, ms) {
      assertTimer(name, 'ms', ms);
      nextIndex++;
      await waitUntil(timers, timers.now() + ms);
    },
    async sleepUntil(name, epochMs) {
      assertTimer(name, 'epochMs', epochMs);
      nextIndex++;
      await waitUntil(timers, epochMs);
    },
    async step(name, run, options) {
      const index = nextIndex++;
      assertCompensateOption(name, options?.compensate);
      const info = { messageId, participant, step: name, stepIndex: index };
      if (typeof options?.compensate === 'string') namedHandler(registry, options.compensate, name);
      const output = await observedRun(run, { messageId, step: name, stepIndex: index }, observe);
      const compensation = compensationOf(info, output, options, registry);
      if (compensation !== undefined) register(compensation);
      return output;
    },
  };
}

/** `compensations` must map names to functions; `compensationAttempts` is a positive integer. */
export function assertCompensationOptions(options: { readonly compensations?: unknown; readonly compensationAttempts?: unknown }): void {
  const { compensations, compensationAttempts } = options;
  if (compensations !== undefined && (typeof compensations !== 'object' || compensations === null)) {
    throw new ConfigError('compensations must be an object of named handlers');
  }
  for (const [name, handler] of Object.entries(compensations ?? {})) {
    if (typeof handler !== 'function') throw new ConfigError(`compensation ${JSON.stringify(name)} must be a function`);
  }
  if (compensationAttempts !== undefined && !(Number.isSafeInteger(compensationAttempts) && (compensationAttempts as number) >= 1)) {
    throw new ConfigError(`compensationAttempts must be a positive integer, got ${JSON.stringify(compensationAttempts)}`);
  }
}
