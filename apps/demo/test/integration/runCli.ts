import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sourceNodeArgs } from '@liminal/testkit';

export const demoDir = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the demo CLI the way a user would (TypeScript sources through tsx), with a non-TTY stdout. */
export function startCli(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [...sourceNodeArgs, cli, ...args], {
    cwd: demoDir,
    env: { ...process.env, INIT_CWD: demoDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a test can kill -9 the coordinator and its workers at once.
    detached: true,
  });
}

export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export function runCli(args: readonly string[]): Promise<CliResult> {
  return finished(startCli(args));
}
