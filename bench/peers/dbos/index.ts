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
    systemDatabaseUrl,
    systemDatabasePoolSize: poolSize,
    logLevel: 'error',
  });
  await DBOS.launch();
  return {
    runWorkflow: (steps, output) => workflow(steps, output),
    shutdown: () => DBOS.shutdown({ deregister: true }),
  };
}
