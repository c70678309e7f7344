import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of `workers/<name>.ts`, a script meant to run in its own process. */
export function worker(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}.ts`, import.meta.url));
}

/** Starts a TypeScript file in a fresh Node process, running sources directly (no build). */
export function startScript(file: string, args: readonly string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--conditions=@liminal/source', '--import', 'tsx', file, ...args], {
    stdio: [stdin, 'pipe', 'pipe'],
  });
}

/**
 * Starts one process per argument list, waits until every one has printed
 * `ready`, then tells them all `go` at once and resolves to each one's
 * remaining stdout. However slowly a loaded machine spawns them, the
 * processes really do run together.
 */
export async function runTogether(file: string, argLists: readonly (readonly string[])[]): Promise<string[]> {
  const children = argLists.map((args) => startScript(file, args, 'pipe'));
  const readies: Promise<void>[] = [];
  const outputs = children.map((child) => {
    let stdout = '';
    let stderr = '';
    let announced = false;
    readies.push(
      new Promise((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (!announced && stdout.startsWith('ready\n')) {
            announced = true;
            stdout = stdout.slice('ready\n'.length);
            resolve();
          }
        });
        child.on('close', () => reject(new Error(`${file} exited before it was ready: ${stderr}`)));
      }),
    );
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${file} exited ${code}: ${stderr}`))));
    });
  });
  // Settled below, or (if one never gets ready) abandoned with the killed processes.
  for (const output of outputs) output.catch(() => undefined);
  try {
    await Promise.all(readies);
  } catch (error) {
    for (const child of children) child.kill();
    throw error;
  }
  for (const child of children) {
    // A child that died after `ready` fails through its exit code; the write must not crash the runner.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end('go\n');
  }
  return Promise.all(outputs);
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
