import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { StoreUnavailableError } from '@liminal/store';
import { probePostgres, testPostgresUrl } from './postgres.js';

/**
 * How the cluster behind `LIMINAL_PG_URL` is restarted. `LIMINAL_PG_RESTART`
 * overrides it, so the disruptive tests can run against a private cluster
 * instead of the one everybody on the machine shares.
 */
const restartCommand =
  process.env['LIMINAL_PG_RESTART'] ?? 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main restart';

/**
 * Restarts the test PostgreSQL (every open connection dies) and resolves once
 * `url` accepts connections again; rejects with `StoreUnavailableError` if it
 * is not back within `timeoutMs`.
 */
export async function restartTestPostgres(url: string = testPostgresUrl, timeoutMs = 30_000): Promise<void> {
  await promisify(execFile)('bash', ['-c', restartCommand]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probePostgres(url, 2_000);
      return;
    } catch (cause) {
      if (Date.now() > deadline) {
        throw new StoreUnavailableError(`PostgreSQL at ${url} did not come back within ${timeoutMs} ms`, { cause });
      }
      await sleep(250);
    }
  }
}
