import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { causeMessage, ConfigError, openStore, parseStoreUrl, type DurableStore, type StoreLocation } from '@liminal/store';
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
  let location: StoreLocation;
  try {
    location = parseStoreUrl(url);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--store: ${error.message}`, { cause: error });
    throw error;
  }
  if (location.kind === 'memory') throw new UsageError('--store memory: is empty in a new process; use sqlite:<file> or postgres://...');
  let target = url;
  if (location.kind === 'sqlite') {
    const absolute = resolve(env['INIT_CWD'] ?? process.cwd(), location.path);
    if (!existsSync(absolute)) throw new UsageError(`--store: SQLite file ${absolute} does not exist`);
    target = `sqlite:${absolute}`;
  }
  let store: DurableStore;
  try {
    store = await openStore(target);
  } catch (error) {
    throw new UsageError(`--store ${JSON.stringify(url)}: ${firstLine(causeMessage(error))}`, { cause: error });
  }
  try {
    await store.readValue('liminal-cli:probe');
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new UsageError(`--store ${JSON.stringify(redact(url))} cannot be read: ${firstLine(causeMessage(error))}`, { cause: error });
  }
  return store;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}


export function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
