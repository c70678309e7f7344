/**
 * DBOS Transact (5.3.0): a workflow whose every step DBOS checkpoints in its
 * PostgreSQL system database (one `operation_outputs` row per step), which is
 * what Liminal's `recordStepCompleted` corresponds to.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';

export const dbosVersion = '5.3.0';

export interface DbosSteps {
  /** Runs one workflow of `steps` checkpointed steps, each returning `output`. */
  runWorkflow(steps: number, output: string): Promise<void>;
  shutdown(): Promise<void>;
}

export async function launchDbos(systemDatabaseUrl: string, poolSize: number): Promise<DbosSteps> {
  const workflow = DBOS.registerWorkflow(
    async (steps: number, output: string) => {
      for (let step = 0; step < steps; step++) {
        await DBOS.runStep(async () => output, { name: 'step' });
      }
    },
    { name: 'benchWorkflow' },
  );
  DBOS.setConfig({
    name: 'liminal-bench',
    systemDatabaseUrl: withIdleTransactionTimeout(systemDatabaseUrl),
    systemDatabasePoolSize: poolSize,
    logLevel: 'error',
  });
  await DBOS.launch();
  return {
    runWorkflow: (steps, output) => workflow(steps, output),
    shutdown: () => DBOS.shutdown({ deregister: true }),
  };
}

/**
 * DBOS sets `idle_in_transaction_session_timeout` (its default, 60 s) on
 * every new connection of its pool with a query it does not await, so the
 * borrower's first query is sent while it runs: pg 8.23 warns "Calling
 * client.query() when the client is already executing a query". Given as a
 * connection option instead, the server applies it at connect and DBOS
 * skips its own query: the same setting, one statement fewer, no warning.
 */
function withIdleTransactionTimeout(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.searchParams.get('options')?.includes('idle_in_transaction_session_timeout')) {
    url.searchParams.set('options', [url.searchParams.get('options'), '-c idle_in_transaction_session_timeout=60000'].filter(Boolean).join(' '));
  }
  return url.toString();
}

