import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';

/** A store several processes can open by URL: a fresh SQLite file or PostgreSQL schema per `url()`. */
export interface Backend {
  readonly name: string;
  url(): Promise<string>;
}

const postgresUrl = await postgresForTests();

/**
 * SQLite always, PostgreSQL when reachable (required under CI=true). What
 * `url()` creates is removed by the cleanup it pushes onto `cleanups`.
 */
export function processBackends(cleanups: (() => Promise<void>)[]): { readonly sqlite: Backend; readonly postgres: Backend | undefined } {
  const sqlite: Backend = {
    name: 'sqlite',
    url: async () => {
      const directory = mkdtempSync(join(tmpdir(), 'liminal-processes-'));
      cleanups.push(async () => rmSync(directory, { recursive: true, force: true }));
      return `sqlite:${join(directory, 'store.db')}`;
    },
  };
  const postgres: Backend | undefined =
    postgresUrl === undefined
      ? undefined
      : {
          name: 'postgres',
          url: async () => {
            const schema = uniqueSchemaName();
            cleanups.push(() => dropTestSchema(schema, postgresUrl));
            const url = new URL(postgresUrl);
            url.searchParams.set('schema', schema);
            return url.toString();
          },
        };
  return { sqlite, postgres };
}
