import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/**
 * Gives every test of the enclosing suite a fresh directory under the OS temp
 * dir, removed after the test whatever its outcome. Returns `file(name)`: the
 * path of `name` inside the current test's directory.
 */
export function useTempDirectory(prefix: string): (name: string) => string {
  let directory: string | undefined;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    directory = undefined;
  });
  return (name) => {
    if (directory === undefined) throw new Error('useTempDirectory: call file() inside a test');
    return join(directory, name);
  };
}
