/**
 * `pnpm bench [--quick] [--only <text>] [--cpu-prof]`: runs every suite in `bench/suites/`
 * (each in its own process), then writes results.json and RESULTS.md
 * (`--quick` writes results.quick.json and RESULTS.quick.md instead, so a smoke
 * run never overwrites the committed full results).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresForTests } from '@liminal/testkit';
import { benchDir, readEnvironment } from './environment.js';
import { writeResultsMarkdown } from './markdown.js';
import type { Results, SuiteResult } from './results.js';

const args = process.argv.slice(2).filter((arg) => arg !== '--');
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
// `--cpu-prof`: each suite's child writes a V8 CPU profile to bench/profiles/
// (summarise one with `node --import tsx src/profileSummary.ts <file>`).
const profile = args.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(import.meta.dirname, '..', 'profiles')}`] : [];

const started = performance.now();
const postgresUrl = await postgresForTests();
const environment = await readEnvironment(postgresUrl);

const suitesDir = join(benchDir, 'suites');
const files = readdirSync(suitesDir)
  .filter((file) => file.endsWith('.ts') && (!only || file.includes(only)))
  .sort();

const suites: SuiteResult[] = [];
for (const file of files) {
  process.stderr.write(`\n== ${file}\n`);
  const output = join(tmpdir(), `liminal-bench-${process.pid}-${file}.json`);
  try {
    execFileSync(
      process.execPath,
      [
        '--conditions=@liminal/source',
        '--import',
        'tsx',
        '--expose-gc',
        ...profile,
        join(benchDir, 'src', 'runSuite.ts'),
        join(suitesDir, file),
        output,
        quick ? 'quick' : 'full',
        postgresUrl ?? '',
      ],
      { cwd: benchDir, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    suites.push(JSON.parse(readFileSync(output, 'utf8')) as SuiteResult);
  } catch (error) {
    // The child died before writing its result (native crash, OOM): keep going.
    suites.push({ file, title: file, seconds: 0, rows: [], measurements: [], log: [], error: String(error) });
  } finally {
    if (existsSync(output)) rmSync(output);
  }
}

const results: Results = {
  generatedAt: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  seconds: (performance.now() - started) / 1000,
  environment,
  suites,
};
const suffix = quick ? '.quick' : '';
writeFileSync(join(benchDir, `results${suffix}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeResultsMarkdown(results, suffix);
process.stderr.write(`\nwrote bench/results${suffix}.json and bench/RESULTS${suffix}.md in ${results.seconds.toFixed(0)} s\n`);
const failed = suites.filter((suite) => suite.error);
if (failed.length > 0) {
  process.stderr.write(`suites that failed: ${failed.map((suite) => suite.file).join(', ')}\n`);
  process.exitCode = 1;
}
