import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run against each package's TypeScript sources through the
// `@liminal/source` export condition, so no build is needed before testing and
// packages still import each other only through their public `exports`.
const conditions = ['@liminal/source', ...defaultServerConditions];

const project = (name: string, root: string) => ({
  extends: true as const,
  test: { name, root },
});

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      project('@liminal/store', 'packages/store'),
      project('@liminal/durability', 'packages/durability'),
      project('@liminal/actors', 'packages/actors'),
      project('@liminal/demo', 'apps/demo'),
    ],
  },
});
