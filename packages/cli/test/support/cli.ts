import { runCli } from '../../src/main.js';

/** Runs one `liminal` command line in this process and captures what it printed. */
export async function liminal(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    { write: (text) => void (stdout += text) },
    { write: (text) => void (stderr += text) },
    async () => {
      throw new Error('console is not started by these tests');
    },
    { ...process.env, LIMINAL_STORE: undefined, ...env },
  );
  return { code, stdout, stderr };
}

export async function liminalJson<T>(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const result = await liminal([...args, '--json'], env);
  if (result.code !== 0) throw new Error(`liminal ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
