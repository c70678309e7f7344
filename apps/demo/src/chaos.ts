/**
 * `pnpm chaos`: the proof behind the demo. Runs the demo as child processes
 * over SQLite, then over a private PostgreSQL cluster it starts (restarted once; the server
 * given with --postgres is only used, never restarted, with --no-postgres-restart), killing
 * workers with `kill -9`, pausing others past their lease (zombies) and
 * adding a worker that joins mid-run and leaves gracefully, then verifies
 * the ledger.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage } from '@liminal/store';
import { testPostgresUrl } from '@liminal/testkit';
import { chaosPassed, runChaos, type ChaosTarget } from './chaosHarness.js';
import { nonNegativeInteger, positiveInteger } from './options.js';

const cli = new Command('liminal-chaos')
  .description('kill -9 demo workers at random moments (and restart PostgreSQL once), then verify nothing was lost or duplicated')
  .option('--orders <n>', 'orders per run', positiveInteger(10_000_000), 10_000)
  .option('--kills <n>', 'worker kills per run (at least)', nonNegativeInteger, 5)
  .option('--zombies <n>', 'workers paused (SIGSTOP) past their lease, then resumed', nonNegativeInteger, 3)
  .option('--workers <n>', 'worker processes', positiveInteger(64), 2)
  .option('--partitions <n>', 'channel partitions', positiveInteger(256), 4)
  .option('--seed <n>', 'seed for kill moments, crash rate and orders', nonNegativeInteger, Date.now() % 1_000_000)
  .option('--postgres <url>', 'with --no-postgres-restart: the PostgreSQL to use (a unique schema is created and dropped)', testPostgresUrl)
  .option('--only <store>', 'sqlite or postgres (default: both)')
  .option('--no-postgres-restart', 'run on --postgres without a restart, instead of on a private cluster restarted in the middle')
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(`liminal-chaos: ${message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`) });

try {
  cli.parse(process.argv.slice(2), { from: 'user' });
  const opts = cli.opts<{ orders: number; kills: number; zombies: number; workers: number; partitions: number; seed: number; postgres: string; only?: string; postgresRestart: boolean }>();
  const targets: ChaosTarget[] = [];
  if (opts.only === undefined || opts.only === 'sqlite') targets.push({ kind: 'sqlite' });
  if (opts.only === undefined || opts.only === 'postgres') targets.push(opts.postgresRestart ? { kind: 'privatePostgres' } : { kind: 'postgres', url: opts.postgres });
  if (targets.length === 0) throw new CommanderError(2, 'usage', `--only must be sqlite or postgres, got ${opts.only}`);
  let failed = 0;
  for (const target of targets) {
    const report = await runChaos({ ...opts, target, log: (line) => console.log(line) });
    if (!chaosPassed(report, opts.kills, opts.zombies)) failed += 1;
  }
  console.log(failed === 0 ? 'chaos: every run verified: 0 lost, 0 duplicated, cursors never moved backwards' : `chaos: ${failed} run(s) FAILED`);
  process.exitCode = failed === 0 ? 0 : 1;
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.code === 'usage') process.stderr.write(`liminal-chaos: ${error.message}\n`);
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`liminal-chaos: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  }
}
