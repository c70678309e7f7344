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
  },
});
