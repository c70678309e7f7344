import { errorMessage, LiminalError } from '@liminal/store';
import { CommanderError } from 'commander';
import { NotFoundError, UsageError } from './errors.js';
import { program, type ConsoleStarter, type Output } from './program.js';
import { firstLine } from './storeUrl.js';

/** Exit codes: 0 done, 1 a failure (the store refused or holds something unreadable), 2 bad input. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Runs one `liminal` command line (`argv` without `node` and the script).
 * Resolves with the exit code; every error becomes one line on `err`, never a stack trace.
 */
export async function runCli(
  argv: readonly string[],
  out: Output,
  err: Output,
  startConsole: ConsoleStarter,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    // No command at all: show the help, as `git` does.
    await program(out, startConsole, env).parseAsync(argv.length === 0 ? ['--help'] : [...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      err.write(`liminal: ${firstLine(error.message.replace(/^error: /, ''))}\n`);
      return EXIT.usage;
    }
    if (error instanceof UsageError || error instanceof NotFoundError) {
      err.write(`liminal: ${firstLine(error.message)}\n`);
      return EXIT.usage;
    }
    if (error instanceof LiminalError) {
      err.write(`liminal: ${error.code}: ${firstLine(error.message)}\n`);
      return EXIT.failure;
    }
    err.write(`liminal: ${firstLine(errorMessage(error))}\n`);
    return EXIT.failure;
  }
}
