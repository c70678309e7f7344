import { Command, CommanderError, InvalidArgumentError as CommanderArgumentError } from 'commander';
import type { DurableStore } from '@liminal/store';
import { conversationAction, releaseExpiredClaim } from './actions.js';
import { channelRows, claimsView, groupsView, lagView } from './channels.js';
import { cliNow } from './clock.js';
import { listConversations, showConversation } from './conversations.js';
import { parseDuration } from './duration.js';
import { renderChannels, renderClaims, renderConversation, renderConversations, renderGroups, renderLag } from './render.js';
import { UsageError } from './errors.js';
import { defaultStoreUrl, openCliStore } from './storeUrl.js';

/** Where a command writes; a test passes its own. */
export interface Output {
  write(text: string): void;
}

interface Common {
  readonly store: string;
  readonly json: boolean;
}

/** What `liminal console` does once its options are parsed (see console.ts); kept apart so the CLI does not load the web server for a table. */
export type ConsoleStarter = (options: { readonly storeUrl: string; readonly port: number }, out: Output) => Promise<void>;

/**
 * The `liminal` command line. Every command takes `--store URL` and `--json`;
 * reads never write to the store and need no running Liminal process.
 */
export function program(out: Output, startConsole: ConsoleStarter, env: NodeJS.ProcessEnv = process.env): Command {
  const cli = new Command('liminal')
    .description('See, find and fix conversations, channels, groups and claims in a Liminal store.')
    .showSuggestionAfterError(false)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (text) => out.write(text), writeErr: () => undefined, outputError: () => undefined });

  const command = (name: string, description: string) =>
    cli
      .command(name)
      .description(description)
      .option('--store <url>', 'sqlite:<file>, a file path, or postgres://user@host/db[?schema=name] (default: $LIMINAL_STORE or the demo store)', defaultStoreUrl(env))
      .option('--json', 'print JSON (for scripts) instead of tables', false)
      .showSuggestionAfterError(false)
      .exitOverride()
      .configureOutput({ writeOut: (text) => out.write(text), writeErr: () => undefined, outputError: () => undefined });

  const print = (options: Common, view: unknown, human: () => string) =>
    out.write(`${options.json ? JSON.stringify(view, null, 2) : human()}\n`);

  command('channels', 'list channels: partitions, messages published, consumers and their largest lag').action(async (options: Common) =>
    withStore(options, env, async (store) => {
      const rows = await channelRows(store);
      print(options, rows, () => renderChannels(rows));
    }),
  );

  command('lag', "show a channel's partitions with their head offset, and each consumer's (or group's) cursor and lag")
    .argument('<channel>', 'channel name')
    .option('--group <name>', 'only this consumer id or worker group (its cursors are keyed by the group name)')
    .action(async (channel: string, options: Common & { group?: string }) =>
      withStore(options, env, async (store) => {
        const view = await lagView(store, channel, options.group);
        print(options, view, () => renderLag(view));
      }),
    );

  command('groups', 'show the worker groups of a channel: members with heartbeats and assignments, partition leases with holders and epochs, cursors and lag')
    .argument('<channel>', 'channel name')
    .action(async (channel: string, options: Common) =>
      withStore(options, env, async (store) => {
        const view = await groupsView(store, channel);
        print(options, view, () => renderGroups(view));
      }),
    );

  command('claims', 'list the idempotency keys of a dedup namespace: claimed (in flight), completed or released')
    .argument('<namespace>', 'dedup namespace: a DedupCache namespace, e.g. published/<channel> (idempotent publishes) or consumed/<channel>/<consumerId>')
    .option('--in-flight', 'only claims without a receipt', false)
    .option('--limit <n>', 'entries per page', positiveInteger, 100)
    .option('--after <stream>', 'continue after this entry stream (printed as "more:")')
    .action(async (namespace: string, options: Common & { inFlight: boolean; limit: number; after?: string }) =>
      withStore(options, env, async (store) => {
        const view = await claimsView(store, namespace, { inFlight: options.inFlight, limit: options.limit, ...(options.after === undefined ? {} : { after: options.after }) }, cliNow(env));
        print(options, view, () => renderClaims(view, options.inFlight));
      }),
    );

  command('conversations', 'list durable conversations from the conversation index: phase, version, age, last activity, step count')
    .option('--phase <phase>', 'only this phase (created, active, completing, closed, failed)')
    .option('--stuck <duration>', 'only conversations in flight with no activity for longer than this (e.g. 5m, 1h)')
    .option('--failed', 'only failed conversations', false)
    .option('--prefix <text>', 'only ids starting with this')
    .option('--limit <n>', 'conversations per page', positiveInteger, 50)
    .option('--after <id>', 'continue after this id (printed as "more:")')
    .action(async (options: Common & { phase?: string; stuck?: string; failed: boolean; prefix?: string; limit: number; after?: string }) => {
      const stuckMs = options.stuck === undefined ? undefined : parseDuration(options.stuck, '--stuck');
      const filter = {
        ...(options.phase === undefined ? {} : { phase: options.phase }),
        ...(stuckMs === undefined ? {} : { stuckMs }),
        ...(options.failed ? { failed: true } : {}),
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      };
      await withStore(options, env, async (store) => {
        const page = await listConversations(store, filter, { limit: options.limit, ...(options.after === undefined ? {} : { after: options.after }) }, cliNow(env));
        print(options, page, () => renderConversations(page));
      });
    });

  command('show', "a conversation's timeline: messages, steps with their outputs (JSON, or hex), replies, errors and compensations")
    .argument('<id>', 'conversation id (its journal stream)')
    .action(async (id: string, options: Common) =>
      withStore(options, env, async (store) => {
        const detail = await showConversation(store, id, cliNow(env));
        print(options, detail, () => renderConversation(detail));
      }),
    );

  command('release', 'release an expired claim so its key can be claimed again (an action: needs --allow-actions)')
    .argument('<namespace>', 'dedup namespace of the claim')
    .argument('<key>', 'the idempotency key (as `liminal claims` lists it)')
    .option('--allow-actions', 'allow this command to write to the store', false)
    .action(async (namespace: string, key: string, options: Common & { allowActions: boolean }) => {
      if (!options.allowActions) throw new UsageError('release writes to the store; add --allow-actions to do it');
      await withStore(options, env, async (store) => {
        const released = await releaseExpiredClaim(store, namespace, key, cliNow(env));
        print(options, released, () => `released the expired claim of ${released.owner} on ${JSON.stringify(key)} (lease ended ${new Date(released.expiresAtMs).toISOString()})`);
      });
    });

  const conversationCommand = (action: 'retry' | 'cancel', description: string, done: string) =>
    command(action, `${description} (an action: needs --allow-actions)`)
      .argument('<id>', 'conversation id')
      .option('--allow-actions', 'allow this command to write to the store', false)
      .action(async (id: string, options: Common & { allowActions: boolean }) => {
        if (!options.allowActions) throw new UsageError(`${action} writes to the store; add --allow-actions to do it`);
        await withStore(options, env, async (store) => {
          const result = await conversationAction(store, action, id, cliNow(env));
          print(options, result, () => `${done} ${result.id}: ${result.from} -> ${result.to} (journal record ${result.seq})`);
        });
      });
  conversationCommand('retry', 'retry a failed conversation: back to active, its unfinished messages resume from their last recorded step when delivered again', 'retried');
  conversationCommand('cancel', 'cancel a conversation that has not ended: it fails (requested: cancelled); a worker still holding it is fenced', 'cancelled');

  command('console', 'serve a web console on 127.0.0.1 with the same views, updating live')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', port, 4300)
    .action(async (options: Common & { port: number }) => {
      await startConsole({ storeUrl: options.store, port: options.port }, out);
    });

  return cli;
}

async function withStore(options: Common, env: NodeJS.ProcessEnv, work: (store: DurableStore) => Promise<void>): Promise<void> {
  const store = await openCliStore(options.store, env);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw new CommanderArgumentError('expected a positive integer');
  return value;
}

function port(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535) throw new CommanderArgumentError('expected a port number from 0 to 65535');
  return value;
}

export { CommanderError };
