import { defineConfig } from 'vitest/config';
import { disruptiveStage } from './vitest.shared.js';

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts'],
    reporters: [
      'default',
      ['json', { outputFile: `.vitest-results-${disruptiveStage ? 'disruptive' : 'main'}.json` }],
    ],
    passWithNoTests: disruptiveStage,
    fileParallelism: !disruptiveStage,
    // Vitest's default on a 2-core machine is one worker (cores - 1), which runs
    // the files one after another. Most of the time of the slow files is spent
    // waiting (on child processes, PostgreSQL, fsync), so two workers cut the
    // main stage from about 15 to about 12 minutes here with no failure.
    maxWorkers: disruptiveStage ? 1 : 2,
  },
});
