import { defaultServerConditions } from 'vite';
import { defineProject } from 'vitest/config';

// Tests run against each package's TypeScript sources through the
// `@liminal/source` export condition, so no build is needed before testing and
// packages still import each other only through their public `exports`.
const conditions = ['@liminal/source', ...defaultServerConditions];

/**
 * Tests under `test/disruptive/` restart PostgreSQL or otherwise disturb the
 * whole machine, so they run in a second stage (`LIMINAL_TEST_STAGE=disruptive`),
 * one file at a time, after every other test has finished.
 */
const disruptiveTests = 'test/disruptive/**/*.test.ts';
export const disruptiveStage = process.env['LIMINAL_TEST_STAGE'] === 'disruptive';

export function liminalProject(name: string) {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      name,
      include: disruptiveStage ? [disruptiveTests] : ['test/**/*.test.ts'],
      exclude: disruptiveStage ? [] : [disruptiveTests],
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  });
}
