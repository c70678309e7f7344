import { LiminalError } from '@liminal/store';

/**
 * The user asked for something the CLI cannot do: an unknown option, a bad
 * duration, a store that does not exist. Printed as one line; exit code 2.
 */
export class UsageError extends LiminalError {
  readonly code = 'USAGE';
}

/** The thing named on the command line is not in the store (a conversation id, a channel). */
export class NotFoundError extends LiminalError {
  readonly code = 'NOT_FOUND';

  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`no ${kind} ${JSON.stringify(id)} in this store`);
  }
}
