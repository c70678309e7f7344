#!/usr/bin/env node
/**
 * The demo's command line: `pnpm demo [options]` runs (or resumes) the demo,
 * `pnpm demo verify` re-checks the ledger. Exit codes: 0 fine, 1 lost or
 * duplicated effects (or a failure), 2 bad input (one line on stderr, nothing
 * written), 3 `verify` on a run that has not finished yet, 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage, LiminalError } from '@liminal/store';
import { runDemo } from './coordinator.js';
import { UsageError } from './errors.js';
import { currentRun, type RunSettings } from './manifest.js';
import { crashRate, nonNegativeInteger, port, positiveInteger } from './options.js';
import { defaultStoreUrl, describeLocation, openDemoStore, parseStoreUrl } from './storeUrl.js';
import { isClean, verifyRun } from './verify.js';

const maxOrders = 10_000_000;
const maxPartitions = 256;
const maxWorkers = 64;
const maxRate = 1_000_000;

function program(): Command {
  const cli = new Command('liminal-demo')
    .description('Orders flow through a durable channel into supervised, crash-prone participants; nothing is lost or done twice.')
    .option('--store <url>', 'sqlite:<file>, a file path, or postgres://user@host/db[?schema=name]', defaultStoreUrl)
    .option('--messages <n>', 'orders to publish', positiveInteger(maxOrders), 2_000)
    .option('--partitions <n>', 'channel partitions', positiveInteger(maxPartitions), 4)
    .option('--workers <n>', 'worker processes sharing the partitions', positiveInteger(maxWorkers), 2)
    .option('--crash-rate <p>', 'probability that a participant crashes while handling a step', crashRate, 0.05)
    .option('--seed <n>', 'seed for the orders and the crash schedule', nonNegativeInteger, 42)
    .option('--rate <n>', 'publish at most n orders a second (default: as fast as the channel takes them)', positiveInteger(maxRate))
    .option('--reset', 'start a new run even if the last one is unfinished', false)
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics while running (0: any free port)', port)
    .showSuggestionAfterError(false)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(oneLine(message)) })
    .action(async (opts: CliOptions, command: Command) => {
      if (opts.workers > opts.partitions) {
        throw new UsageError(`--workers ${opts.workers} is more than --partitions ${opts.partitions}: each partition is consumed by exactly one worker`);
      }
      const explicit = new Set<keyof RunSettings>(
        (['messages', 'partitions', 'seed'] as const).filter((key) => command.getOptionValueSource(key) === 'cli'),
      );
      process.exitCode = await runDemo(
        {
          location: parseStoreUrl(opts.store),
          requested: { settings: { messages: opts.messages, partitions: opts.partitions, seed: opts.seed }, explicit, reset: opts.reset },
          workers: opts.workers,
          crashRate: opts.crashRate,
          ...(opts.rate === undefined ? {} : { ordersPerSecond: opts.rate }),
          ...(opts.metricsPort === undefined ? {} : { metricsPort: opts.metricsPort }),
        },
        process.stdout,
      );
    });

  cli
    .command('verify')
    .description("re-check the current run's ledger: every order's effects exactly once, or compensated")
    .option('--store <url>', 'the store the demo ran on', defaultStoreUrl)
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(oneLine(message)) })
    .action(async (opts: { store: string }) => {
      process.exitCode = await verify(opts.store);
    });
  return cli;
}

interface CliOptions {
  store: string;
  messages: number;
  partitions: number;
  workers: number;
  crashRate: number;
  seed: number;
  reset: boolean;
  rate?: number;
  metricsPort?: number;
}

async function verify(url: string): Promise<number> {
  const location = parseStoreUrl(url);
  const store = await openDemoStore(location, 'existing');
  try {
    const run = await currentRun(store);
    if (run === undefined) throw new UsageError(`${describeLocation(location)} holds no demo run (run the demo first)`);
    const report = await verifyRun(store, run);
    const say = (line: string) => process.stdout.write(`${line}\n`);
    say(`run ${run.run}: ${report.completed}/${report.orders} orders finished (${report.fulfilled} fulfilled, ${report.compensated} compensated), ${report.pending} pending`);
    say(`ledger: ${report.sideEffects} side effects, ${report.compensations} compensations`);
    say(`lost: ${report.lost}, duplicated: ${report.duplicated}`);
    for (const problem of report.problems) say(`  problem: ${problem}`);
    if (!isClean(report)) {
      say('verify: FAILED');
      return 1;
    }
    if (report.pending > 0) {
      say('verify: nothing lost or duplicated so far, but the run is unfinished (run the demo again to resume it)');
      return 3;
    }
    say('verify: OK, every order has each of its effects exactly once (or compensated)');
    return 0;
  } finally {
    await store.close();
  }
}

function oneLine(message: string): string {
  return `liminal-demo: ${message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`;
}

async function main(argv: readonly string[]): Promise<void> {
  try {
    await program().parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; everything else it reports is bad input.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof UsageError) {
      process.stderr.write(oneLine(error.message));
      process.exitCode = 2;
      return;
    }
    const detail = error instanceof LiminalError ? `${error.code}: ${error.message}` : errorMessage(error);
    process.stderr.write(oneLine(`failed: ${detail}`));
    if (process.env['LIMINAL_DEBUG'] !== undefined) console.error(error);
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
