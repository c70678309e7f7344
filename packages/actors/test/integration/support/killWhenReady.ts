import { spawn } from 'node:child_process';
import { sourceNodeArgs } from '@liminal/testkit';

/** How a fixture process ended, with everything it printed. */
export interface FixtureExit {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly pid: number;
}

/**
 * Runs a TypeScript fixture in its own node process (workspace sources, no
 * build) and kills it with SIGKILL the moment its stdout ends with "ready":
 * the fixture chooses the point of the kill -9 by printing it. A fixture may
 * also kill itself first; the caller reads which happened from `signal` and
 * `stdout`.
 */
export function killWhenReady(fixture: string, args: readonly string[]): Promise<FixtureExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeArgs, fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.endsWith('ready\n')) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ stdout, stderr, code, signal, pid: child.pid! }));
  });
}
