import { newMessageId } from '@liminal/durability';
import { InvalidArgumentError } from '@liminal/store';
import type { Actor } from 'xstate';
import type { Conversation } from './Conversation.js';
import { ConversationMessage } from './ConversationMessage.js';
import type { conversationMachine } from './conversationMachine.js';
import type { ConversationState, ParticipantExit } from './ConversationState.js';
import { ConversationClosedError } from './errors.js';
import { assertJsonPayload } from './internal/assertJsonPayload.js';
import type { ConversationRuntime } from './internal/ConversationRuntime.js';
import { assertMessageId, waitOptions, type SendOptions, type WaitOptions } from './messaging.js';
import type { Envelope } from './participant.js';

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
    assertMessageId(options?.messageId);
    const phase = this.runtime.phase();
    if (phase === 'failed') throw this.runtime.failureError();
    if (phase === 'closed') throw new ConversationClosedError(this.id);
    // A completing conversation takes no new message, but a redelivery of one
    // its journal received (its process died while it was closing) resumes or is answered.
    if (phase === 'completing' && !this.runtime.isJournaled(options?.messageId)) throw new ConversationClosedError(this.id);
    const payload = message instanceof ConversationMessage ? message.payload : message;
    if (this.runtime.actor.getSnapshot().context.mode === 'durable') assertJsonPayload(payload);
    if (phase === 'created') this.runtime.transition('activate');
    const envelope: Envelope = {
      id: options?.messageId ?? newMessageId(),
      sender: this.sender,
      message: message instanceof ConversationMessage ? message : this.runtime.span.message(message),
      inReplyTo: undefined,
    };
    this.runtime.actor.send({ type: 'message', envelope });
    return envelope.id;
  }

  /**
   * The next reply no `ask` is waiting for, in the order participants produced
   * them. Rejects with `TimeoutError` after `timeoutMs` (`receive(500)` is
   * `receive({ timeoutMs: 500 })`), with `ConversationClosedError` once closed
   * and nothing is left to read, with `ConversationFailedError` once failed,
   * with `InvalidArgumentError` for a bad `timeoutMs`.
   */
  receive(options?: WaitOptions | number): Promise<Envelope> {
    try {
      return this.runtime.takeOrWait(waitOptions(options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends `message` and resolves with the participant's reply to it (matched
   * by message id). `ask(message, 500)` is `ask(message, { timeoutMs: 500 })`.
   */
  ask<P>(message: P | ConversationMessage<P>, options?: (WaitOptions & SendOptions) | number): Promise<Envelope> {
    let normalized: (WaitOptions & SendOptions) | undefined;
    try {
      normalized = waitOptions(options);
      assertMessageId(normalized?.messageId);
    } catch (error) {
      return Promise.reject(error);
    }
    const messageId = normalized?.messageId ?? newMessageId();
    // A second ask on the same id would take the first one's place, leaving it waiting forever.
    if (this.runtime.isAwaitingReply(messageId)) {
      return Promise.reject(new InvalidArgumentError('messageId', `an ask for ${JSON.stringify(messageId)} is already waiting for its reply`));
    }
    // Wait before sending: a participant may answer before `send` returns.
    const reply = this.runtime.awaitReply(messageId, normalized);
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
    const phase = this.runtime.phase();
    if (phase === 'closed') return;
    if (phase === 'created') this.runtime.transition('activate');
    this.runtime.transition('beginCompleting');
    await this.runtime.drained();
    await this.runtime.flush();
    this.runtime.assertJournalIntact();
    this.runtime.transition('close');
    // Durable mode: `closed` is in the journal once close resolves.
    await this.runtime.flush();
    this.runtime.assertJournalIntact();
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
