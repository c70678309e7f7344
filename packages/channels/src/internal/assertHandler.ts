import { InvalidArgumentError } from '@liminal/store';

/** A handler that is not a function would only fail at its first delivery, counted as a crash; refuse it up front. */
export function assertHandler(argument: string, handler: unknown): void {
  if (typeof handler !== 'function') throw new InvalidArgumentError(argument, 'expected a function');
}
