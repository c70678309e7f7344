import { errorMessage, InvalidArgumentError } from '@liminal/store';

/** A durable conversation journals its messages as JSON: a payload JSON cannot hold is refused before it is sent. */
export function assertJsonPayload(payload: unknown): void {
  try {
    JSON.stringify(payload);
  } catch (error) {
    throw new InvalidArgumentError('message', `a durable conversation's messages must be JSON values (${errorMessage(error)})`);
  }
}
