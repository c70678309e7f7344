import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/supervisedConversation.js';
import { main as deploy } from '../examples/deployNewVersion.js';

describe('README example', () => {
  it('a durable conversation survives a participant crash and a reopen without charging twice', async () => {
    const lines: string[] = [];
    expect(await main((line) => lines.push(line))).toBe(2);
    expect(lines).toEqual([
      'book: charged 40 by billing-2',
      'lamp: charged 40 by billing-2',
      'reopened: active, billing-1 dead',
      'book: charged 40 by billing-2',
      'charges: 2',
    ]);
  });

  it('deploying a new version: in-flight conversations finish on their version, new ones start on the new one', async () => {
    const lines: string[] = [];
    await deploy((line) => lines.push(line));
    expect(lines).toEqual(['v1: reserve, charge book', 'v1: reserve, charge lamp', 'v2: fraudCheck, reserve, charge desk', 'VERSION_MISMATCH']);
  });

  it.each(['supervisedConversation', 'deployNewVersion'])('%s is the code the README shows, and under 40 lines', (name) => {
    const example = readFileSync(new URL(`../examples/${name}.ts`, import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const shown = example.slice(0, example.indexOf('\nif (import.meta.url')).trim();
    expect(readme).toContain(shown);
    const codeLines = shown.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('//'));
    expect(codeLines.length).toBeLessThan(40);
  });
});
