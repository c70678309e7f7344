import { UsageError } from './errors.js';

/**
 * The CLI's "now" in epoch ms: `LIMINAL_CLI_NOW` (epoch ms or an ISO date) when
 * set, for tests and for looking at a store as of a moment; `Date.now()` otherwise.
 */
export function cliNow(env: NodeJS.ProcessEnv = process.env): number {
  const fixed = env['LIMINAL_CLI_NOW'];
  if (fixed === undefined || fixed === '') return Date.now();
  const ms = /^\d+$/.test(fixed) ? Number(fixed) : Date.parse(fixed);
  if (!Number.isSafeInteger(ms)) throw new UsageError(`LIMINAL_CLI_NOW ${JSON.stringify(fixed)} is neither epoch milliseconds nor an ISO date`);
  return ms;
}
