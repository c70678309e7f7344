/**
 * Node's flags that run a workspace TypeScript file straight from its
 * sources, in a child process: the `@liminal/source` export condition (every
 * package's `exports` maps it to `src/`) and the tsx loader. No build needed,
 * so a test's child runs the same code as the test itself.
 */
export const sourceNodeArgs: readonly string[] = ['--conditions=@liminal/source', '--import', 'tsx'];
