import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layering the READMEs describe, checked: store <- durability <- actors,
 * and channels on store and durability only. Shared runtime pieces (the
 * supervisor, trace context, clock, partitioner, message ids) live in
 * durability so that channels need not depend on actors for them. A runtime
 * dependency that points up, or a source import a package does not declare
 * as a dependency (a devDependency resolves in the workspace but not for a
 * user), fails here.
 */

const repo = fileURLToPath(new URL('../../..', import.meta.url));

const allowed: Record<string, readonly string[]> = {
  '@liminal/store': [],
  '@liminal/durability': ['@liminal/store'],
  '@liminal/actors': ['@liminal/store', '@liminal/durability'],
  '@liminal/channels': ['@liminal/store', '@liminal/durability'],
  '@liminal/cli': ['@liminal/store', '@liminal/durability', '@liminal/actors'],
};

interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

const packages = readdirSync(join(repo, 'packages'))
  .map((dir) => ({ dir: join(repo, 'packages', dir), manifest: JSON.parse(readFileSync(join(repo, 'packages', dir, 'package.json'), 'utf8')) as Manifest }))
  .filter(({ manifest }) => manifest.private !== true);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('package layering', () => {
  it('knows every published package', () => {
    expect(packages.map(({ manifest }) => manifest.name).sort()).toEqual(Object.keys(allowed).sort());
  });

  it.each(packages.map(({ dir, manifest }) => [manifest.name, dir, manifest] as const))(
    '%s depends only on the packages below it',
    (name, dir, manifest) => {
      const liminal = Object.keys(manifest.dependencies ?? {}).filter((dep) => dep.startsWith('@liminal/'));
      expect(liminal.sort()).toEqual([...(allowed[name] ?? [])].sort());
      const imported = new Set<string>();
      for (const file of sourceFiles(join(dir, 'src'))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/from '(@liminal\/[a-z-]+)/g)) imported.add(match[1]!);
      }
      imported.delete(name);
      expect([...imported].filter((dep) => !liminal.includes(dep))).toEqual([]);
    },
  );
});

describe('one xstate', () => {
  it('every manifest that depends on xstate (packages, demo, bench) asks for the same range', () => {
    const manifests = [
      ...readdirSync(join(repo, 'packages')).map((dir) => join(repo, 'packages', dir, 'package.json')),
      ...readdirSync(join(repo, 'apps')).map((dir) => join(repo, 'apps', dir, 'package.json')),
      join(repo, 'bench', 'package.json'),
    ];
    const ranges = new Map<string, string>();
    for (const path of manifests) {
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
      const range = manifest.dependencies?.['xstate'] ?? manifest.devDependencies?.['xstate'];
      if (range !== undefined) ranges.set(path.slice(repo.length), range);
    }
    expect(ranges.size).toBeGreaterThanOrEqual(4);
    expect(new Set(ranges.values()), JSON.stringify(Object.fromEntries(ranges))).toHaveLength(1);
  });
});
