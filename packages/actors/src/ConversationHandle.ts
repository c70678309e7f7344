import { randomUUID } from 'node:crypto';
import type { Actor } from 'xstate';
import { Conversation } from './Conversation.js';
import { ConversationMessage } from './ConversationMessage.js';
import type { conversationMachine, ConversationLogEntry, ConversationMode, CrashPolicy, ParticipantStatus } from './conversationMachine.js';
import { ConversationClosedError, ConversationFailedError, TimeoutError } from './errors.js';
import type { Envelope } from './participant.js';
import type { ConversationPhase, FailureReason } from './phases.js';

/** What `getState()` shows: a copy, safe to keep. */
export interface ConversationState {
  readonly id: string;
  readonly phase: ConversationPhase;
  readonly mode: ConversationMode;
  readonly onCrash: CrashPolicy;
  readonly participants: readonly ParticipantStatus[];
  readonly log: readonly ConversationLogEntry[];
  readonly failure: { readonly reason: FailureReason; readonly cause?: unknown } | undefined;
  /** Messages accepted and not yet finished by a participant. */
  readonly inFlight: number;
}

export interface ParticipantExit {
  readonly participant: string;
  readonly exitedAt: number;
}

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

interface Waiter {
  resolve(envelope: Envelope): void;
  reject(error: unknown): void;
  /** Forgets the wait without settling it (its promise was never handed out). */
  cancel(): void;
}

/** State shared by every handle of one conversation. */
export class ConversationRuntime {
  private readonly inbox: Envelope[] = [];
  private readonly receivers: Waiter[] = [];
  private readonly asks = new Map<string, Waiter>();
  private readonly exitListeners = new Set<(exit: ParticipantExit) => void>();
  private handles = 0;

  constructor(
    readonly actor: Actor<typeof conversationMachine>,
    readonly span: Conversation,
  ) {
    actor.on('reply', ({ envelope }) => this.deliver(envelope));
    actor.on('participantExited', ({ participant, exitedAt }) => {
      for (const listener of this.exitListeners) listener({ participant, exitedAt });
    });
    actor.subscribe((snapshot) => this.settle(snapshot.value as ConversationPhase));
  }

  get id(): string {
    return this.actor.getSnapshot().context.id;
  }

  nextSender(): string {
    this.handles += 1;
    return `handle-${this.handles}`;
  }

  failureError(): ConversationFailedError {
    const failure = this.actor.getSnapshot().context.failure ?? { reason: 'requested' as const };
    return new ConversationFailedError(this.id, failure);
  }

  private deliver(envelope: Envelope): void {
    const asker = envelope.inReplyTo === undefined ? undefined : this.asks.get(envelope.inReplyTo);
    if (asker !== undefined) {
      this.asks.delete(envelope.inReplyTo!);
      asker.resolve(envelope);
      return;
    }
    const receiver = this.receivers.shift();
    if (receiver === undefined) this.inbox.push(envelope);
    else receiver.resolve(envelope);
  }

  /**
   * Rejects whoever waits once the conversation ends; buffered replies stay
   * readable after a close. In durable mode the rejection waits for the
   * journal, so whoever retries after a failure finds the log complete.
   */
  private settle(phase: ConversationPhase): void {
    if (phase !== 'failed' && phase !== 'closed') return;
    const error = phase === 'failed' ? this.failureError() : new ConversationClosedError(this.id);
    const waiters = [...this.receivers.splice(0), ...this.asks.values()];
    this.asks.clear();
    void this.flush().then(() => {
      for (const waiter of waiters) waiter.reject(error);
    });
  }

  /** Resolves once the journal has settled every write issued so far. */
  flush(): Promise<void> {
    return this.actor.getSnapshot().context.journal.flush();
  }

  takeOrWait(options: WaitOptions | undefined): Promise<Envelope> {
    const buffered = this.inbox.shift();
    if (buffered !== undefined) return Promise.resolve(buffered);
    const ended = this.endedError();
    if (ended !== undefined) return Promise.reject(ended);
    return this.wait('receive', options, (waiter) => {
      this.receivers.push(waiter);
      return () => this.receivers.splice(this.receivers.indexOf(waiter), 1);
    });
  }

  awaitReply(messageId: string, options: WaitOptions | undefined): Promise<Envelope> {
    return this.wait('ask', options, (waiter) => {
      this.asks.set(messageId, waiter);
      return () => this.asks.delete(messageId);
    });
  }

  cancelAsk(messageId: string): void {
    this.asks.get(messageId)?.cancel();
    this.asks.delete(messageId);
  }

  private wait(operation: 'receive' | 'ask', options: WaitOptions | undefined, register: (waiter: Waiter) => () => void): Promise<Envelope> {
    return new Promise<Envelope>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        resolve: (envelope) => (clearTimeout(timer), resolve(envelope)),
        reject: (error) => (clearTimeout(timer), reject(error)),
        cancel: () => clearTimeout(timer),
      };
      const unregister = register(waiter);
      const timeoutMs = options?.timeoutMs;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          unregister();
          reject(new TimeoutError(operation, timeoutMs));
        }, timeoutMs);
      }
    });
  }

  endedError(): ConversationClosedError | ConversationFailedError | undefined {
    const phase = this.actor.getSnapshot().value as ConversationPhase;
    if (phase === 'failed') return this.failureError();
    if (phase === 'closed') return new ConversationClosedError(this.id);
    return undefined;
  }

  /** Sends a lifecycle event and turns a refused transition into the error the caller sees. */
  transition(type: 'activate' | 'beginCompleting' | 'close'): void {
    const before = this.actor.getSnapshot().context.rejections.length;
    this.actor.send({ type });
    const rejection = this.actor.getSnapshot().context.rejections[before];
    if (rejection !== undefined) throw new ConversationFailedError(this.id, { reason: 'invalidTransition', ...rejection });
  }

  onParticipantExit(listener: (exit: ParticipantExit) => void): () => void {
    // A participant that died before the listener arrived is reported at once.
    for (const status of this.actor.getSnapshot().context.participants) {
      if (status.health.kind === 'dead') listener({ participant: status.participant, exitedAt: status.health.exitedAt });
    }
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  state(): ConversationState {
    const snapshot = this.actor.getSnapshot();
    const { context } = snapshot;
    return {
      id: context.id,
      phase: snapshot.value as ConversationPhase,
      mode: context.mode,
      onCrash: context.onCrash,
      participants: [...context.participants],
      log: [...context.log],
      failure: context.failure,
      inFlight: context.queue.length + context.turns.length,
    };
  }

  /** Resolves once nothing is queued, handled or being compensated, or rejects if the conversation fails first. */
  drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const snapshot = this.actor.getSnapshot();
        if (snapshot.value === 'failed') return reject(this.failureError()), true;
        const { queue, turns, compensating } = snapshot.context;
        if (queue.length === 0 && turns.length === 0 && !compensating) return resolve(), true;
        return false;
      };
      if (check()) return;
      const subscription = this.actor.subscribe(() => {
        if (check()) subscription.unsubscribe();
      });
    });
  }
}

/**
 * One sender's view of a conversation. Handles are cheap: `withSender` gives
 * another handle on the same conversation, and any number of them may send,
 * receive and ask concurrently. Messages from one handle reach participants in
 * the order that handle sent them.
 */
export class ConversationHandle {
  constructor(
    private readonly runtime: ConversationRuntime,
    /** Who this handle's messages come from (their `Envelope.sender`). */
    readonly sender: string,
  ) {}

  /** The conversation id. */
  get id(): string {
    return this.runtime.id;
  }

  /** The conversation's span (name and trace context); messages sent as bare payloads carry its context. */
  get conversation(): Conversation {
    return this.runtime.span;
  }

  /** The conversation's XState actor, for `subscribe`, `on` and inspection. */
  get actor(): Actor<typeof conversationMachine> {
    return this.runtime.actor;
  }

  /** Another handle on the same conversation, sending as `sender` (a fresh name when absent). */
  withSender(sender?: string): ConversationHandle {
    return new ConversationHandle(this.runtime, sender ?? this.runtime.nextSender());
  }

  /**
   * Sends a message into the conversation (activating it if it was just
   * created) and returns its id. Throws `ConversationClosedError` once it is
   * completing or closed, `ConversationFailedError` once it failed.
   */
  send<P>(message: P | ConversationMessage<P>, options?: SendOptions): string {
    const phase = this.runtime.actor.getSnapshot().value as ConversationPhase;
    if (phase === 'failed') throw this.runtime.failureError();
    if (phase === 'completing' || phase === 'closed') throw new ConversationClosedError(this.id);
    if (phase === 'created') this.runtime.transition('activate');
    const envelope: Envelope = {
      id: options?.messageId ?? randomUUID(),
      sender: this.sender,
      message: message instanceof ConversationMessage ? message : this.runtime.span.message(message),
      inReplyTo: undefined,
    };
    this.runtime.actor.send({ type: 'message', envelope });
    return envelope.id;
  }

  /**
   * The next reply no `ask` is waiting for, in the order participants produced
   * them. Rejects with `TimeoutError` after `timeoutMs`, with
   * `ConversationClosedError` once closed and nothing is left to read, with
   * `ConversationFailedError` once failed.
   */
  receive(options?: WaitOptions): Promise<Envelope> {
    return this.runtime.takeOrWait(options);
  }

  /** Sends `message` and resolves with the participant's reply to it (matched by message id). */
  ask<P>(message: P | ConversationMessage<P>, options?: WaitOptions & SendOptions): Promise<Envelope> {
    const messageId = options?.messageId ?? randomUUID();
    // Wait before sending: a participant may answer before `send` returns.
    const reply = this.runtime.awaitReply(messageId, options);
    try {
      this.send(message, { messageId });
    } catch (error) {
      this.runtime.cancelAsk(messageId);
      return Promise.reject(error);
    }
    return reply;
  }

  /**
   * Closes normally: no new messages are accepted, messages already sent are
   * handled to the end, then the conversation is closed. Closing a closed
   * conversation does nothing; closing a failed one rejects with
   * `ConversationFailedError` (`from: 'failed'`).
   */
  async close(): Promise<void> {
    const phase = this.runtime.actor.getSnapshot().value as ConversationPhase;
    if (phase === 'closed') return;
    if (phase === 'created') this.runtime.transition('activate');
    this.runtime.transition('beginCompleting');
    await this.runtime.drained();
    this.runtime.transition('close');
    await this.runtime.flush();
  }

  getState(): ConversationState {
    return this.runtime.state();
  }

  /**
   * Calls `listener` whenever a participant exits (crashes or is stopped),
   * including, right away, those that already exited. Returns an unsubscribe function.
   */
  onParticipantExit(listener: (exit: ParticipantExit) => void): () => void {
    return this.runtime.onParticipantExit(listener);
  }
}
