import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { DurableStore } from '@liminal/store';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { channelRows, claimsView, groupsView, lagView } from './channels.js';
import { cliNow } from './clock.js';
import { listConversations, showConversation, type ConversationFilter } from './conversations.js';
import { parseDuration } from './duration.js';
import { NotFoundError, UsageError } from './errors.js';
import type { Output } from './program.js';
import { openCliStore } from './storeUrl.js';

export interface ConsoleOptions {
  /** How often the live feed re-reads the channels (default 1000 ms). */
  readonly refreshMs?: number;
  /** The clock for ages and `stuck` (default `cliNow`). */
  readonly now?: () => number;
}

/** The page's files, served from the package (no CDN, nothing fetched from outside). */
const assets: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const types: Readonly<Record<string, string>> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const publicDir = fileURLToPath(new URL('../public/', import.meta.url));

/**
 * The console's HTTP app: the page, a JSON API with the CLI's views (the same
 * objects `--json` prints), and `/api/events`, a server-sent event stream
 * that pushes the channel table whenever it changes (read every `refreshMs`).
 */
export function consoleApp(store: DurableStore, options: ConsoleOptions = {}): Hono {
  const now = options.now ?? (() => cliNow());
  const refreshMs = options.refreshMs ?? 1_000;
  const app = new Hono();

  for (const [path, file] of Object.entries(assets)) {
    app.get(path, async (c) => {
      const body = await readFile(new URL(file, `file://${publicDir}`), 'utf8');
      return c.body(body, 200, { 'content-type': types[file.split('.').at(-1)!]!, 'cache-control': 'no-store' });
    });
  }

  app.get('/api/channels', async (c) => c.json(await channelRows(store)));
  app.get('/api/channels/:name/lag', async (c) => c.json(await lagView(store, c.req.param('name'), c.req.query('group') || undefined)));
  app.get('/api/channels/:name/groups', async (c) => c.json(await groupsView(store, c.req.param('name'))));
  app.get('/api/claims/:namespace', async (c) => {
    const after = c.req.query('after');
    const view = await claimsView(store, c.req.param('namespace'), { inFlight: c.req.query('inFlight') === '1', limit: 100, ...(after ? { after } : {}) }, now());
    return c.json(view);
  });
  app.get('/api/conversations', async (c) => {
    const q = (name: string) => c.req.query(name) || undefined;
    const stuck = q('stuck');
    const filter: ConversationFilter = {
      ...(q('phase') === undefined ? {} : { phase: q('phase')! }),
      ...(stuck === undefined ? {} : { stuckMs: parseDuration(stuck, 'stuck') }),
      ...(q('failed') === '1' ? { failed: true } : {}),
      ...(q('prefix') === undefined ? {} : { prefix: q('prefix')! }),
    };
    const limit = Math.min(500, Math.max(1, Number(q('limit') ?? 50) || 50));
    const after = q('after');
    return c.json(await listConversations(store, filter, { limit, ...(after === undefined ? {} : { after }) }, now()));
  });
  app.get('/api/conversations/:id', async (c) => c.json(await showConversation(store, c.req.param('id'), now())));

  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let last = '';
      let open = true;
      stream.onAbort(() => void (open = false));
      while (open) {
        const data = JSON.stringify(await channelRows(store));
        if (data !== last) {
          last = data;
          await stream.writeSSE({ event: 'channels', data });
        }
        await stream.sleep(refreshMs);
      }
    }),
  );

  app.onError((error, c) => {
    const status = error instanceof NotFoundError ? 404 : error instanceof UsageError ? 400 : 500;
    return c.json({ error: error.message.split('\n')[0] }, status);
  });
  return app;
}

export interface RunningConsole {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `consoleApp(store)` on 127.0.0.1:`port` (0: any free port). */
export async function serveConsole(store: DurableStore, port: number, options: ConsoleOptions = {}): Promise<RunningConsole> {
  const app = consoleApp(store, options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Open event streams would hold the server up forever.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new UsageError(`--port ${port}: cannot listen on 127.0.0.1 (${error.code ?? error.message})`, { cause: error })),
    );
  });
}

/** `liminal console`: serves until SIGINT/SIGTERM, then closes the server and the store. */
export async function startConsole(options: { readonly storeUrl: string; readonly port: number }, out: Output): Promise<void> {
  const store = await openCliStore(options.storeUrl);
  let running: RunningConsole;
  try {
    running = await serveConsole(store, options.port);
  } catch (error) {
    await store.close();
    throw error;
  }
  out.write(`liminal console: ${running.url} (store ${options.storeUrl}); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  await store.close();
}
