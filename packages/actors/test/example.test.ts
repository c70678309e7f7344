import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/supervisedConversation.js';

describe('README example', () => {
  it('a supervised durable conversation survives a crash without charging twice', async () => {
    const lines: string[] = [];
    expect(await main((line) => lines.push(line))).toBe(2);
    expect(lines).toEqual(['restarted desk', 'book: charged 40', 'lamp: charged 40', 'charges: 2']);
  });

  it('is the code the README shows, and under 40 lines', () => {
    const example = readFileSync(new URL('../examples/supervisedConversation.ts', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const shown = example.slice(0, example.indexOf('\nif (import.meta.url')).trim();
    expect(readme).toContain(shown);
    const codeLines = shown.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('//'));
    expect(codeLines.length).toBeLessThan(40);
  });
});
