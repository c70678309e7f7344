import type { Actor } from 'xstate';
import type { Conversation } from '../Conversation.js';
import type { ConversationState, ParticipantExit } from '../ConversationState.js';
import type { WaitOptions } from '../messaging.js';
import type { conversationMachine } from '../conversationMachine.js';
import { ConversationClosedError, ConversationFailedError, TimeoutError } from '../errors.js';
import type { Envelope } from '../participant.js';
import type { ConversationPhase } from '../phases.js';
import { phaseOf } from './phaseOf.js';

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
    actor.on('turnRefused', ({ messageId, error }) => {
      const asker = this.asks.get(messageId);
      this.asks.delete(messageId);
      asker?.reject(error);
    });
    actor.on('participantExited', ({ participant, exitedAt }) => {
      for (const listener of this.exitListeners) listener({ participant, exitedAt });
    });
    actor.subscribe((snapshot) => this.settle(phaseOf(snapshot)));
  }

  get id(): string {
    return this.actor.getSnapshot().context.id;
  }

  phase(): ConversationPhase {
    return phaseOf(this.actor.getSnapshot());
  }

  /** Durable mode: the journal has received `messageId`. */
  isJournaled(messageId: string | undefined): boolean {
    const { journal } = this.actor.getSnapshot().context;
    return messageId !== undefined && journal.kind === 'durable' && journal.hasReceived(messageId);
  }

  nextSender(): string {
    this.handles += 1;
    return `handle-${this.handles}`;
  }

  /**
   * The error for a failed conversation. A failed journal write wins over the
   * reason the machine recorded: the log is then incomplete, whatever else happened.
   */
  failureError(): ConversationFailedError {
    const { context } = this.actor.getSnapshot();
    const broken = context.journal.kind === 'durable' ? context.journal.failure() : undefined;
    if (broken !== undefined) return new ConversationFailedError(this.id, { reason: 'journalFailed', cause: broken.error });
    return new ConversationFailedError(this.id, context.failure ?? { reason: 'requested' as const });
  }

  private failure(): ConversationState['failure'] {
    const { journal, failure } = this.actor.getSnapshot().context;
    const broken = journal.kind === 'durable' ? journal.failure() : undefined;
    return broken === undefined ? failure : { reason: 'journalFailed', cause: broken.error };
  }

  /** Throws the journal's first failed write as a `ConversationFailedError` (`journalFailed`). */
  assertJournalIntact(): void {
    const { journal } = this.actor.getSnapshot().context;
    const broken = journal.kind === 'durable' ? journal.failure() : undefined;
    if (broken !== undefined) throw new ConversationFailedError(this.id, { reason: 'journalFailed', cause: broken.error });
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
    const waiters = [...this.receivers.splice(0), ...this.asks.values()];
    this.asks.clear();
    // A microtask later: observers of this same snapshot (the journal's
    // persistence) queue their writes first, and the flush waits for them.
    void Promise.resolve()
      .then(() => this.flush())
      .then(() => {
      // Read after the flush: a write that failed meanwhile makes it `journalFailed`.
        const error = phase === 'failed' ? this.failureError() : new ConversationClosedError(this.id);
        for (const waiter of waiters) waiter.reject(error);
      });
  }

  /** Resolves once the journal has settled every write issued so far. */
  flush(): Promise<void> {
    const { journal } = this.actor.getSnapshot().context;
    return journal.kind === 'durable' ? journal.flush() : Promise.resolve();
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

  isAwaitingReply(messageId: string): boolean {
    return this.asks.has(messageId);
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
    const phase = this.phase();
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
      phase: phaseOf(snapshot),
      mode: context.mode,
      onCrash: context.onCrash,
      participants: [...context.participants],
      log: context.log.toArray(),
      failure: this.failure(),
      inFlight: context.queue.length + context.turns.length,
    };
  }

  /** Resolves once nothing is queued, handled or being compensated, or rejects if the conversation fails first. */
  drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const snapshot = this.actor.getSnapshot();
        if (snapshot.matches('failed')) return reject(this.failureError()), true;
        const { queue, turns } = snapshot.context;
        if (queue.length === 0 && turns.length === 0 && !snapshot.matches('compensating')) return resolve(), true;
        return false;
      };
      if (check()) return;
      const subscription = this.actor.subscribe(() => {
        if (check()) subscription.unsubscribe();
      });
    });
  }
}

