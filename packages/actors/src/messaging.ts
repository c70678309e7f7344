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
