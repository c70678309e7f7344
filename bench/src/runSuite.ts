/**
 * Child-process entry: runs one suite file and writes its SuiteResult as JSON.
 * Each suite gets a fresh process so one suite's heap, open handles or native
 * crash cannot skew or sink the next one.
 *
 * argv: <suite file> <output json> <quick|full> [postgres url]
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SuiteRun } from './context.js';
import type { SuiteResult } from './results.js';
import type { Suite } from './suite.js';

const [file, output, mode, postgresUrl] = process.argv.slice(2);
if (!file || !output || (mode !== 'quick' && mode !== 'full')) {
  process.stderr.write('usage: runSuite <suite file> <output json> <quick|full> [postgres url]\n');
  process.exit(2);
}

const started = performance.now();
const suite = ((await import(pathToFileURL(file).href)) as { default: Suite }).default;
const run = new SuiteRun(suite.title, mode === 'quick', postgresUrl || undefined);
let error: string | undefined;
try {
  await suite.run(run);
} catch (cause) {
  error = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
  run.log(`FAILED: ${error}`);
} finally {
  await run.runCleanups();
}

const result: SuiteResult = {
  file: basename(file),
  title: suite.title,
  seconds: (performance.now() - started) / 1000,
  rows: run.rows,
  measurements: run.measurements,
  log: run.logLines,
  ...(error ? { error } : run.failures > 0 ? { error: `${run.failures} row(s) failed; see the rows` } : {}),
};
writeFileSync(output, JSON.stringify(result));
// Pools and DBOS timers of a finished suite must not keep the child alive.
process.exit(0);
