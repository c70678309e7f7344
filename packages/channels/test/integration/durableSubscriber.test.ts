import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableChannel } from '@liminal/durability';
import { openStore } from '@liminal/store';
import { dropTestSchema, postgresForTests, sourceNodeArgs, uniqueSchemaName } from '@liminal/testkit';
import { afterEach, expect, it } from 'vitest';
import { ChannelRegistry } from '../../src/index.js';

const workerFile = fileURLToPath(new URL('./workers/subscriber.ts', import.meta.url));
const postgresUrl = await postgresForTests();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startSubscriber(url: string) {
  const child: ChildProcess = spawn(process.execPath, [...sourceNodeArgs, workerFile, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const received = () => lines.filter((line) => line !== 'ready').map((line) => (JSON.parse(line) as { text: string }).text);
  return { child, lines, received, exited, stderr: () => stderr };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function storeUrl(): Promise<string> {
  if (postgresUrl !== undefined) {
    const schema = uniqueSchemaName();
    cleanups.push(() => dropTestSchema(schema, postgresUrl));
    const url = new URL(postgresUrl);
    url.searchParams.set('schema', schema);
    return url.toString();
  }
  const directory = mkdtempSync(join(tmpdir(), 'liminal-subscriber-'));
  cleanups.push(async () => rmSync(directory, { recursive: true, force: true }));
  return `sqlite:${join(directory, 'audit.db')}`;
}

it('a durable subscriber in another process receives stored messages, and after kill -9 resumes from its cursor', { timeout: 180_000 }, async () => {
  const url = await storeUrl();
  const store = await openStore(url);
  cleanups.push(() => store.close());
  const registry = new ChannelRegistry({ store });
  cleanups.push(() => registry.closeAll());
  const audit = registry.create<{ text: string }>({ name: 'audit', mode: 'durable', partitions: 2 });
  const cursors = async () => {
    const channel = new DurableChannel(store, 'audit', { partitions: 2 });
    return (await channel.consume('readers', 0)).cursor.currentOffset + (await channel.consume('readers', 1)).cursor.currentOffset;
  };

  const first = startSubscriber(url);
  await until(() => first.lines.includes('ready'), `the subscriber to start: ${first.stderr()}`);
  for (const text of ['login', 'view', 'logout']) await audit.publish({ text }, { key: text });
  await until(() => first.received().length === 3, 'three deliveries');
  expect(first.received().sort()).toEqual(['login', 'logout', 'view']);
  await until(async () => (await cursors()) === 3, 'the group cursor past all three');
  first.child.kill('SIGKILL');
  await first.exited;

  for (const text of ['refund', 'close']) await audit.publish({ text }, { key: text });
  const second = startSubscriber(url);
  await until(() => second.received().length === 2, `the two new messages after the restart: ${second.stderr()}`);
  await until(async () => (await cursors()) === 5, 'the group cursor past all five');
  expect(second.received().sort()).toEqual(['close', 'refund']);
});

it('subscribeDurable on an ephemeral channel is a ConfigError', async () => {
  const registry = new ChannelRegistry();
  const ticks = registry.create({ name: 'ticks', mode: 'ephemeral' });
  await expect(ticks.subscribeDurable('readers', () => undefined)).rejects.toThrow(/ephemeral/);
  await registry.closeAll();
});
