import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of `workers/<name>.ts`, a script meant to run in its own process. */
export function worker(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}.ts`, import.meta.url));
}

/** Starts a TypeScript file in a fresh Node process, running sources directly (no build). */
export function startScript(file: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--conditions=@liminal/source', '--import', 'tsx', file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a TypeScript file to completion and returns its stdout; a non-zero exit rejects with its stderr. */
export function runScript(file: string, args: readonly string[]): Promise<string> {
  const child = startScript(file, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${file} exited ${code}: ${stderr}`))));
  });
}
