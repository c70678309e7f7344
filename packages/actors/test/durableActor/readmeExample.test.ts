import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/quoteFlow.js';

describe('README: modelling a conversation flow', () => {
  it('quote → accept → invoice survives a restart, and an unanswered quote expires at its deadline after one', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    expect(lines).toEqual(['lamp: invoiced, paid 40', 'book: expired']);
  });

  it('is the code the README shows', () => {
    const example = readFileSync(new URL('../../examples/quoteFlow.ts', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(example.slice(0, example.indexOf('\nif (import.meta.url')).trim());
  });
});
