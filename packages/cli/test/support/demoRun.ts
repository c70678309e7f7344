import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const tsx = `${repo}node_modules/.bin/tsx`;

/** What the demo's own summary and `verify` report for the run (the ledger read back). */
export interface DemoOutcome {
  readonly orders: number;
  readonly fulfilled: number;
  readonly compensated: number;
  readonly ledgerEffects: number;
  readonly output: string;
}

/**
 * Runs the real demo (`pnpm demo`, its own coordinator and worker processes)
 * on `storeUrl`, then `demo verify`, and returns the counts verify read from
 * the ledger: the CLI's views are checked against these.
 */
export async function runDemo(storeUrl: string, options: { messages: number; partitions?: number; workers?: number }): Promise<DemoOutcome> {
  const args = ['--store', storeUrl, '--messages', String(options.messages), '--partitions', String(options.partitions ?? 2), '--workers', String(options.workers ?? 2)];
  const demo = await run(tsx, ['--conditions=@liminal/source', `${repo}apps/demo/src/cli.ts`, ...args], { cwd: repo, timeout: 120_000, maxBuffer: 16 << 20 });
  const verify = await run(tsx, ['--conditions=@liminal/source', `${repo}apps/demo/src/cli.ts`, 'verify', '--store', storeUrl], { cwd: repo, timeout: 60_000 });
  const finished = /(\d+)\/(\d+) orders finished \((\d+) fulfilled, (\d+) compensated\)/.exec(verify.stdout);
  const ledger = /ledger: (\d+) side effects/.exec(verify.stdout);
  if (finished === null || ledger === null) throw new Error(`demo verify printed no counts:\n${verify.stdout}`);
  return {
    orders: Number(finished[2]),
    fulfilled: Number(finished[3]),
    compensated: Number(finished[4]),
    ledgerEffects: Number(ledger[1]),
    output: demo.stdout,
  };
}

/** The names the demo gives run 1 (see apps/demo/src/names.ts): what a user would read off `liminal channels`. */
export const demoRun1 = {
  channel: 'liminal-demo:r1:orders',
  consumer: 'liminal-demo:r1:fulfilment',
  orderPrefix: 'liminal-demo:r1:order:',
  effects: 'liminal-demo:r1:effects',
} as const;

/** Runs the `liminal` bin as its own process, as a user would. */
export async function liminalProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, ['--conditions=@liminal/source', `${repo}packages/cli/src/bin.ts`, ...args], {
      cwd: repo,
      timeout: 60_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
