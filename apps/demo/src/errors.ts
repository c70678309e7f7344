import { LiminalError } from '@liminal/store';

/**
 * The user asked for something the demo cannot do (bad option, unusable
 * store). The CLI prints the message as one line and exits with code 2.
 */
export class UsageError extends LiminalError {
  readonly code = 'USAGE';
}
