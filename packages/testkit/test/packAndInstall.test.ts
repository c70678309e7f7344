import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The packages as a user gets them: every published package is built, packed
 * into the tarball `pnpm publish` would upload, and installed with plain
 * `npm install` into a fresh project outside the workspace (no pnpm, no
 * workspace links, no `@liminal/source` condition). Each package README's
 * first TypeScript example is then type-checked against the shipped
 * declarations and run with plain `node`.
 *
 * Packing uses `pnpm pack`, not `npm pack`: only pnpm rewrites the
 * `workspace:*` ranges into the released versions and applies
 * `publishConfig.exports`; an `npm pack` tarball keeps `workspace:*`, which
 * npm itself refuses to install (EUNSUPPORTEDPROTOCOL).
 *
 * Install scripts run as they would for a user, so better-sqlite3 gets its
 * native addon the way npm gives it to anyone: its install script
 * (`prebuild-install || node-gyp rebuild`) looks for a prebuilt binary, and
 * only without one compiles SQLite from source. CI reaches the npm registry
 * only, so the GitHub download of that binary fails and the compile would
 * add about a minute. The test hands prebuild-install the addon the workspace
 * install already compiled instead, through prebuild-install's documented
 * local-prebuild directory (`npm_config_better_sqlite3_local_prebuilds`): the
 * same better-sqlite3 version (the consumer pins it with `overrides`, inside
 * the store's range), the same Node ABI, packed under the file name the
 * download would have. The store README's example then runs on a real SQLite
 * file, and a second process reopens it.
 */

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const minutes = (n: number) => n * 60_000;

/** What each README's first example must print; a package missing here fails the test until it is added. */
const expectedOutput: Record<string, readonly string[]> = {
  '@liminal/store': ['fenced: expected 0, stream is at 3', '0 created', '2 shipped', 'processed = 1'],
  '@liminal/durability': ['published order e at offset 4', 'charged order e', 'caught up at offset 5'],
  '@liminal/actors': ['book: charged 40 by billing-2', 'reopened: active, billing-1 dead', 'charges: 2'],
  '@liminal/channels': ['audit o-1 250 EUR', 'delivered to 2 subscribers', 'SchemaMismatchError'],
};

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly exports?: unknown;
  readonly bin?: string | Record<string, string>;
  readonly dependencies?: Record<string, string>;
}

interface Published {
  readonly dir: string;
  readonly manifest: Manifest;
  /** `<name>.ts` file name in the consumer project. */
  readonly slug: string;
  tarball?: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files?: Set<string>;
  packed?: Manifest;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const published: Published[] = readdirSync(join(repo, 'packages'))
  .map((name) => join(repo, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: readJson<Manifest>(join(dir, 'package.json')) }))
  .filter(({ manifest }) => manifest.private !== true)
  .map(({ dir, manifest }) => ({ dir, manifest, slug: manifest.name.replace(/^@liminal\//, '') }));

/** The first ```ts block of a README, or undefined. */
function firstTypeScriptExample(readme: string): string | undefined {
  return /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
}

/** Every target string in an `exports` map (conditions and subpaths flattened). */
function exportTargets(exportsField: unknown): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.values(exportsField).flatMap(exportTargets);
}

let consumer: string;
let packs: string;
let sqliteVersion: string;

beforeAll(async () => {
  // turbo builds in dependency order (^build) and caches, so a second run is quick.
  await run('npx', ['-y', 'pnpm@10', 'run', 'build'], { cwd: repo, timeout: minutes(4) });
  packs = mkdtempSync(join(tmpdir(), 'liminal-packs-'));
  const filters = published.flatMap((pkg) => ['--filter', pkg.manifest.name]);
  const { stdout } = await run('npx', ['-y', 'pnpm@10', '-r', ...filters, 'pack', '--json', '--pack-destination', packs], {
    cwd: repo,
    timeout: minutes(2),
  });
  const reports = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
  for (const pkg of published) {
    const report = reports.find((candidate) => candidate.name === pkg.manifest.name);
    if (report === undefined) throw new Error(`pnpm pack produced no tarball for ${pkg.manifest.name}`);
    pkg.tarball = report.filename;
    pkg.files = new Set(report.files.map((file) => file.path));
    const { stdout: packedManifest } = await run('tar', ['-xOzf', report.filename, 'package/package.json']);
    pkg.packed = JSON.parse(packedManifest) as Manifest;
  }

  // better-sqlite3 as the workspace installed (and compiled) it, packed as the prebuild its install script looks for.
  const sqliteDir = dirname(createRequire(join(repo, 'packages/store/package.json')).resolve('better-sqlite3/package.json'));
  sqliteVersion = readJson<Manifest>(join(sqliteDir, 'package.json')).version;
  const prebuilds = join(packs, 'prebuilds');
  mkdirSync(prebuilds);
  const prebuildName = `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-czf', join(prebuilds, prebuildName), '-C', sqliteDir, 'build/Release/better_sqlite3.node']);

  consumer = mkdtempSync(join(tmpdir(), 'liminal-consumer-'));
  const dependencies: Record<string, string> = {
    typescript: readJson<{ devDependencies: Record<string, string> }>(join(repo, 'package.json')).devDependencies['typescript']!,
    '@types/node': '^20.19.0',
    xstate: readJson<Manifest>(join(repo, 'packages/actors/package.json')).dependencies!['xstate']!,
  };
  for (const pkg of published) dependencies[pkg.manifest.name] = `file:${pkg.tarball}`;
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies, overrides: { 'better-sqlite3': sqliteVersion } }, null, 2));
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: ['node'],
        outDir: 'out',
        skipLibCheck: true,
      },
      include: ['*.ts'],
    }),
  );
  for (const pkg of published) {
    const example = firstTypeScriptExample(readFileSync(join(pkg.dir, 'README.md'), 'utf8'));
    if (example !== undefined) writeFileSync(join(consumer, `${pkg.slug}.ts`), example);
  }
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: consumer,
    timeout: minutes(4),
    env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds },
  });
}, minutes(8));

afterAll(() => {
  for (const dir of [consumer, packs]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('published packages, installed from their tarballs with plain npm', () => {
  it('finds the published packages', () => {
    expect(published.map((pkg) => pkg.manifest.name)).toEqual(
      expect.arrayContaining(['@liminal/store', '@liminal/durability', '@liminal/actors', '@liminal/channels']),
    );
    expect(published.map((pkg) => pkg.manifest.name)).not.toContain('@liminal/testkit');
  });

  it.each(published.map((pkg) => [pkg.manifest.name, pkg] as const))(
    '%s: the tarball resolves its exports and maps without the workspace',
    (_name, pkg) => {
      const packed = pkg.packed!;
      const files = pkg.files!;
      expect(JSON.stringify(packed)).not.toContain('workspace:');
      expect(JSON.stringify(packed.exports)).not.toContain('@liminal/source');
      expect([...files].filter((file) => /(^|\/)testing\//.test(file))).toEqual([]);
      expect(files).toContain('LICENSE');
      for (const target of exportTargets(packed.exports)) expect(files, `export target ${target}`).toContain(posix.normalize(target));
      // Declaration and source maps may only name files the tarball ships.
      for (const map of [...files].filter((file) => file.endsWith('.map'))) {
        const { sources } = readJson<{ sources: string[] }>(join(consumer, 'node_modules', pkg.manifest.name, map));
        for (const source of sources) expect(files, `${map} -> ${source}`).toContain(posix.join(posix.dirname(map), source));
      }
    },
  );

  it('installed every Liminal package from its tarball, never from the registry', () => {
    expect(consumer.startsWith(repo)).toBe(false);
    const lock = readJson<{ packages: Record<string, { resolved?: string; version?: string }> }>(join(consumer, 'package-lock.json'));
    const liminal = Object.entries(lock.packages).filter(([path]) => path.includes('node_modules/@liminal/'));
    expect(liminal.map(([path]) => path).sort()).toEqual(published.map((pkg) => `node_modules/${pkg.manifest.name}`).sort());
    for (const [, entry] of liminal) expect(entry.resolved).toMatch(/^file:/);
  });

  it('type-checks every README example against the shipped declarations', async () => {
    await expect(run(join(consumer, 'node_modules/.bin/tsc'), ['-p', consumer], { cwd: consumer, timeout: minutes(2) })).resolves.toBeDefined();
  }, minutes(3));

  it.each(published.map((pkg) => [pkg.manifest.name, pkg] as const))('%s: the README example runs with plain node', async (name, pkg) => {
    const expected = expectedOutput[name];
    if (!existsSync(join(consumer, `${pkg.slug}.ts`))) {
      // A package without a TypeScript example (a CLI) must at least start from its tarball.
      expect(pkg.manifest.bin, `${name}: README has no \`\`\`ts example and no bin`).toBeDefined();
      const bin = typeof pkg.manifest.bin === 'string' ? pkg.slug : Object.keys(pkg.manifest.bin!)[0]!;
      await run(join(consumer, 'node_modules/.bin', bin), ['--help'], { cwd: consumer, timeout: minutes(1) });
      return;
    }
    expect(expected, `add the expected output of ${name}'s README example to expectedOutput`).toBeDefined();
    // Some examples export main() instead of running at import (the example file runs it when executed directly).
    const script = `const m = await import(${JSON.stringify(`./out/${pkg.slug}.js`)}); if (typeof m.main === 'function') await m.main();`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, timeout: minutes(1) });
    for (const line of expected!) expect(stdout).toContain(line);
  }, minutes(2));

  it('better-sqlite3 got its addon from its own install script, from the shared prebuild (no compile)', () => {
    const installed = join(consumer, 'node_modules/better-sqlite3');
    expect(readJson<Manifest>(join(installed, 'package.json')).version).toBe(sqliteVersion);
    expect(existsSync(join(installed, 'build/Release/better_sqlite3.node'))).toBe(true);
    // node-gyp leaves its Makefile behind; a prebuild is only the .node file. A compile here means the prebuild
    // name above no longer matches what prebuild-install asks for, and CI pays about a minute for it.
    expect(existsSync(join(installed, 'build/Makefile')), 'better-sqlite3 was compiled from source').toBe(false);
  });

  it('@liminal/store: the README example runs on a SQLite file, and another process reads it back', async () => {
    const file = join(consumer, 'orders.db');
    const { stdout } = await run(process.execPath, [join(consumer, 'out/store.js'), `sqlite:${file}`], { cwd: consumer, timeout: minutes(1) });
    for (const line of expectedOutput['@liminal/store']!) expect(stdout).toContain(line);
    const reopen = `import { openStore } from '@liminal/store';
      const store = await openStore(${JSON.stringify(`sqlite:${file}`)});
      const entries = await store.readFrom('orders:42', 0, 10);
      console.log(JSON.stringify({ kind: store.constructor.name, entries: entries.map((e) => new TextDecoder().decode(e.payload)), processed: await store.readValue('orders:processed') }));
      await store.close();`;
    const { stdout: read } = await run(process.execPath, ['--input-type=module', '-e', reopen], { cwd: consumer, timeout: minutes(1) });
    expect(JSON.parse(read)).toEqual({ kind: 'SqliteStore', entries: ['created', 'paid', 'shipped'], processed: 1 });
  }, minutes(2));
});
