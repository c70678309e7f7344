/**
 * Graphile Worker (0.18.0): a PostgreSQL job queue whose workers wake on
 * LISTEN/NOTIFY (`add_job` notifies) and fall back to polling. Everything
 * lives in the schema given (Graphile Worker's own tables and functions), so
 * a run never touches another schema.
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';

export const graphileWorkerVersion = '0.18.0';
export const graphileTask = 'bench';

/** Adds jobs of the one task; `migrate` first creates the schema. */
export async function graphileProducer(connectionString: string, schema: string): Promise<WorkerUtils> {
  const utils = await makeWorkerUtils({ connectionString, schema, logger: quiet });
  await utils.migrate();
  return utils;
}

/** A worker pool of `concurrency` running `handle` for each job of the task; stop it with `runner.stop()`. */
export function graphileRunner(connectionString: string, schema: string, concurrency: number, handle: (payload: unknown) => void): Promise<Runner> {
  return run({
    connectionString,
    schema,
    concurrency,
    noHandleSignals: true,
    logger: quiet,
    taskList: { [graphileTask]: async (payload) => handle(payload) },
  });
}

const quiet = new Logger(() => () => undefined);
