import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts `workers/<name>.ts` in a fresh Node process, running TypeScript sources directly. */
export function startWorker(name: string, args: readonly string[]): ChildProcess {
  const file = fileURLToPath(new URL(`./workers/${name}.ts`, import.meta.url));
  return spawn(process.execPath, ['--conditions=@liminal/source', '--import', 'tsx', file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a worker to completion and returns its stdout; a non-zero exit rejects with its stderr. */
export function runWorker(name: string, args: readonly string[]): Promise<string> {
  const child = startWorker(name, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`worker ${name} exited ${code}: ${stderr}`))));
  });
}
