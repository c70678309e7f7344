/**
 * Re-renders RESULTS.md (or RESULTS.quick.md with `--quick`) from the stored
 * results JSON and the current ANALYSIS.md, without measuring again: for
 * editing the analysis after a run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './environment.js';
import { writeResultsMarkdown } from './markdown.js';
import type { Results } from './results.js';

const suffix = process.argv.includes('--quick') ? '.quick' : '';
const results = JSON.parse(readFileSync(join(benchDir, `results${suffix}.json`), 'utf8')) as Results;
writeResultsMarkdown(results, suffix);
