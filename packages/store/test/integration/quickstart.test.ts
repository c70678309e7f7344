import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from './children.js';

const quickstart = fileURLToPath(new URL('../../examples/quickstart.ts', import.meta.url));
const expectedOutput = ['fenced: expected 0, stream is at 3', '0 created', '1 paid', '2 shipped', 'processed = 1', ''].join('\n');

describe('the README example (examples/quickstart.ts)', () => {
  it('is the code the README shows', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const script = readFileSync(quickstart, 'utf8').replace(/^(\/\/.*\n)+/, '');
    expect(shown).toBe(script);
  });

  it('runs on the default memory store', async () => {
    expect(await runScript(quickstart, [])).toBe(expectedOutput);
  });

  it('runs on a SQLite file given as a bare path', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'liminal-quickstart-'));
    try {
      expect(await runScript(quickstart, [join(directory, 'orders.db')])).toBe(expectedOutput);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
