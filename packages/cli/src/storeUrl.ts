import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage, LiminalError, openStore, type DurableStore } from '@liminal/store';
import { UsageError } from './errors.js';

/** What `--store` defaults to: `LIMINAL_STORE`, else the demo's store. */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['LIMINAL_STORE'] ?? 'sqlite:./.liminal/demo.db';
}

/**
 * Opens `--store` through the store's own `openStore`, after refusing what
 * would make a read-only tool write: a SQLite file that does not exist (it
 * would be created empty) or `memory:` (empty by definition). A relative
 * path is relative to where the user typed the command (`INIT_CWD` under pnpm).
 * The store is probed with one read, so an unreachable server is one clear line.
 */
export async function openCliStore(url: string, env: NodeJS.ProcessEnv = process.env): Promise<DurableStore> {
  if (url === 'memory:') throw new UsageError('--store memory: is empty in a new process; use sqlite:<file> or postgres://...');
  let target = url;
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
    if (path.length === 0 || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
      throw new UsageError(`--store ${JSON.stringify(url)}: expected sqlite:<file>, a file path, or postgres://user@host/db[?schema=name]`);
    }
    const absolute = resolve(env['INIT_CWD'] ?? process.cwd(), path);
    if (!existsSync(absolute)) throw new UsageError(`--store: SQLite file ${absolute} does not exist`);
    target = `sqlite:${absolute}`;
  }
  let store: DurableStore;
  try {
    store = await openStore(target);
  } catch (error) {
    throw new UsageError(`--store ${JSON.stringify(url)}: ${reason(error)}`, { cause: error });
  }
  try {
    await store.readValue('liminal-cli:probe');
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new UsageError(`--store ${JSON.stringify(redact(url))} cannot be read: ${reason(error)}`, { cause: error });
  }
  return store;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function reason(error: unknown): string {
  if (error instanceof LiminalError && error.cause instanceof Error) return firstLine(error.cause.message);
  return firstLine(errorMessage(error));
}

export function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
