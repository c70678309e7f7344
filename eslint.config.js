// One lint configuration for every workspace package; each package's `lint`
// script runs `eslint .` and ESLint finds this file by walking up.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/**', '**/.turbo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An `async` function without `await` is deliberate here: it turns a
      // synchronous validation throw into a rejection, which is what the
      // Promise-returning contracts (DurableStore and the channel APIs) promise.
      '@typescript-eslint/require-await': 'off',
      // Code here forwards caught errors (`unknown`, or `{}` once narrowed past
      // undefined) to the promise that is waiting for them, as they were thrown.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // `Promise<unknown> | unknown` documents a handler that may be sync or async.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // A leading underscore marks a binding kept on purpose: a parameter an
      // interface requires, or a property removed from a rest spread.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The web console's page script runs in the browser as plain JavaScript:
    // no TypeScript program holds it, so it gets the untyped rules and the
    // browser's globals.
    files: ['packages/cli/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'history', 'fetch', 'EventSource', 'FormData', 'Node', 'URL', 'URLSearchParams', 'console', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['**/test/**/*.ts', '**/examples/**/*.ts'],
    rules: {
      // Tests poke at values typed `any` on purpose: vitest's asymmetric
      // matchers (expect.any, expect.objectContaining) and XState snapshots
      // read without their machine's types. Examples are written as a user
      // writes them against XState's types. The sources keep these rules.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // It misreads XState's type carriers (`input: {} as { start?: number }`)
      // as redundant; removing them changes the machine's types.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
);
