import type { ConversationEvent, DurableConversation } from '@liminal/durability';

/** The log as a write's events will find it: the events committed and those ahead of them in the same commit. */
export interface PendingLog {
  /** The log will hold a receipt of `messageId`. */
  received(messageId: string): boolean;
  /** The sequence the write's first event gets. */
  readonly nextSeq: number;
}

/** Builds a write's events when it commits. */
export type EventBuilder = (log: PendingLog) => readonly ConversationEvent[];

/** How a write commits: its events go with every deferred event issued before it, in one commit. */
export type Commit = (build: EventBuilder) => Promise<void>;

interface Deferred {
  readonly ticket: number;
  readonly build: EventBuilder;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The journal's writes, one at a time and in call order (the log takes
 * appends at the expected sequence only), each event in call order. A write
 * nobody waits on before going on (a receipt, a lifecycle event) is
 * deferred: it rides in the commit of the next write, so a turn's receipt,
 * its log entry and its start are one round trip instead of three. One that
 * no write follows in the same synchronous run commits on its own right after it.
 */
export class JournalWriter {
  #tail: Promise<unknown> = Promise.resolve();
  #tickets = 0;
  readonly #deferred: Deferred[] = [];
  /** Tickets of the writes issued and not yet settled, oldest first. */
  readonly #writes: number[] = [];
  #flushQueued = false;

  constructor(readonly conversation: DurableConversation) {}

  /**
   * Runs `write` after every earlier write. Its `commit` also writes the
   * deferred events issued before it, and those issued after it but before
   * the next write (they follow its own events, so the log keeps call order).
   */
  serial<T>(write: (commit: Commit) => Promise<T>): Promise<T> {
    const ticket = this.#tickets++;
    this.#writes.push(ticket);
    const result = this.#tail.then(() => write((build) => this.#commit(ticket, build))).finally(() => this.#writes.shift());
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Queues events for the next commit; resolves once they are in the log. */
  defer(build: EventBuilder): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#deferred.push({ ticket: this.#tickets++, build, resolve, reject });
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      // A microtask, not a timer: the writes the same code issues next (a turn's admission, issued in the same
      // transition) still come first, and a write nobody follows is in the log as soon as it used to be, so a
      // conversation reopened right after (another instance, another process) neither misses nor is fenced by it.
      queueMicrotask(() => {
        this.#flushQueued = false;
        void this.flush();
      });
    });
  }

  /** Commits every deferred write; resolves once every write issued so far has settled. */
  async flush(): Promise<void> {
    await this.serial((commit) => commit(() => [])).catch(() => {});
  }

  async #commit(ticket: number, build: EventBuilder): Promise<void> {
    // Writes run one at a time in ticket order, so this one is the oldest unsettled one: the next write is second.
    const next = this.#writes[1] ?? Infinity;
    let before = 0;
    while (before < this.#deferred.length && this.#deferred[before]!.ticket < ticket) before++;
    let taken = before;
    while (taken < this.#deferred.length && this.#deferred[taken]!.ticket < next) taken++;
    const riders = this.#deferred.splice(0, taken);
    const events: ConversationEvent[] = [];
    const { state, expectedSeq } = this.conversation;
    const log: PendingLog = {
      received: (messageId) => state.hasReceived(messageId) || events.some((event) => event.kind === 'messageReceived' && event.messageId === messageId),
      get nextSeq() {
        return expectedSeq + events.length;
      },
    };
    try {
      for (const rider of riders.slice(0, before)) events.push(...rider.build(log));
      events.push(...build(log));
      for (const rider of riders.slice(before)) events.push(...rider.build(log));
      if (events.length > 0) await this.conversation.recordEvents(events);
    } catch (error) {
      for (const rider of riders) rider.reject(error);
      throw error;
    }
    for (const rider of riders) rider.resolve();
  }
}
