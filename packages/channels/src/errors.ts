import { LiminalError } from '@liminal/store';

/** `create` was called with a name a live channel already has. */
export class ChannelExistsError extends LiminalError {
  readonly code = 'CHANNEL_EXISTS';

  constructor(readonly channel: string) {
    super(`channel ${JSON.stringify(channel)} already exists`);
  }
}

/** `close(name)` named no live channel. */
export class ChannelNotFoundError extends LiminalError {
  readonly code = 'CHANNEL_NOT_FOUND';

  constructor(readonly channel: string) {
    super(`channel ${JSON.stringify(channel)} does not exist`);
  }
}

/** The channel was closed; closing is sticky, so every later publish or subscribe fails. */
export class ChannelClosedError extends LiminalError {
  readonly code = 'CHANNEL_CLOSED';

  constructor(readonly channel: string) {
    super(`channel ${JSON.stringify(channel)} is closed`);
  }
}

/** A published message does not match the channel's JSON Schema; nothing was stored or delivered. */
export class SchemaMismatchError extends LiminalError {
  readonly code = 'SCHEMA_MISMATCH';

  constructor(
    readonly channel: string,
    /** The validator's messages, one per failed rule, prefixed by the failing JSON pointer. */
    readonly errors: readonly string[],
  ) {
    super(`message does not match the schema of channel ${JSON.stringify(channel)}: ${errors.join('; ')}`);
  }
}

/** A schema evolution would break existing publishers: it makes a field required that was not. */
export class IncompatibleSchemaError extends LiminalError {
  readonly code = 'INCOMPATIBLE_SCHEMA';

  constructor(
    readonly channel: string,
    readonly newlyRequired: readonly string[],
  ) {
    super(
      `schema change on channel ${JSON.stringify(channel)} makes ${newlyRequired.map((f) => JSON.stringify(f)).join(', ')} required; ` +
        'add new fields as optional (with a default) instead',
    );
  }
}

/** The channel actor exhausted its restart budget; the channel is failed and delivers nothing more. */
export class DeliveryFailedError extends LiminalError {
  readonly code = 'DELIVERY_FAILED';

  constructor(
    readonly channel: string,
    readonly restarts: number,
    options?: { cause?: unknown },
  ) {
    super(`channel ${JSON.stringify(channel)} failed after ${restarts} restart(s)`, options);
  }
}

/** A consumer group had no live member to hand a message to. */
export class NoConsumerAvailableError extends LiminalError {
  readonly code = 'NO_CONSUMER_AVAILABLE';

  constructor(
    readonly channel: string,
    readonly group: string,
    readonly messageId: string,
  ) {
    super(`consumer group ${JSON.stringify(group)} on channel ${JSON.stringify(channel)} has no live member for message ${messageId}`);
  }
}

/**
 * A subscriber with the `reject` overflow policy had a full inbox. The whole
 * publish was refused: no subscriber received the message, and (durable mode)
 * nothing was stored.
 */
export class BackpressureError extends LiminalError {
  readonly code = 'BACKPRESSURE';

  constructor(
    readonly channel: string,
    /** Ids of the subscriptions whose inbox was full. */
    readonly subscribers: readonly string[],
  ) {
    super(`channel ${JSON.stringify(channel)}: inbox full for subscriber(s) ${subscribers.join(', ')}`);
  }
}
