import { InvalidArgumentError } from '@liminal/store';

export interface SendOptions {
  /**
   * A stable id for the message. In durable mode it is what makes a
   * redelivered message (after a restart) resume instead of running again.
   */
  readonly messageId?: string;
}

export interface WaitOptions {
  /** Reject with `TimeoutError` after this long; wait forever when absent. */
  readonly timeoutMs?: number;
}

/**
 * `receive(500)` and `receive({ timeoutMs: 500 })` mean the same (DESIGN.md
 * writes the number, issue 5 the object); a bad deadline is an
 * `InvalidArgumentError`, not a timer that fires at once or never.
 */
export function waitOptions<O extends WaitOptions>(options: O | number | undefined): O | WaitOptions | undefined {
  const normalized = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = normalized?.timeoutMs;
  if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0)) {
    throw new InvalidArgumentError('timeoutMs', `expected a non-negative safe integer, got ${String(timeoutMs)}`);
  }
  return normalized;
}

export function assertMessageId(messageId: unknown): asserts messageId is string | undefined {
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '')) {
    throw new InvalidArgumentError('messageId', `expected a non-empty string, got ${JSON.stringify(messageId)}`);
  }
  // The durable log keeps its own records (the compensation run) under this prefix.
  if (messageId?.startsWith('liminal:') === true) {
    throw new InvalidArgumentError('messageId', `ids starting with "liminal:" are reserved, got ${JSON.stringify(messageId)}`);
  }
}
