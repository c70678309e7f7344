import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sourceNodeArgs } from '@liminal/testkit';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

async function example(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...sourceNodeArgs, `examples/${name}.ts`], {
    cwd: packageDir,
    timeout: 60_000,
  });
  return stdout;
}

// The README shows these files; running them keeps the README honest.
describe('README examples', () => {
  it('quickstart: schema defaults, filters and a schema mismatch', async () => {
    const out = await example('quickstart');
    expect(out).toContain('audit o-1 250 EUR');
    expect(out).toContain('big order o-1');
    expect(out).not.toContain('big order o-2');
    expect(out).toContain('delivered to 2 subscribers');
    expect(out).toContain('SchemaMismatchError');
  });

  it('backpressure: accepted, deferred and rejected', async () => {
    const out = await example('backpressure');
    expect(out).toContain("true [ 'sub-1' ]");
    expect(out).toContain('{ delivered: 3, buffered: 2, rejected: 1 }');
  });

  it('routing: a compiled predicate as a subscription filter', async () => {
    const out = (await example('routing')).trim().split('\n');
    expect(out.slice(0, 2)).toEqual(['true', 'true']);
    expect(out.filter((line) => line.startsWith('vip desk got'))).toHaveLength(1);
  });

  it('groups: reroute after a member crash', async () => {
    const out = await example('groups');
    expect(out).toContain('worker b handled resize image 1');
    expect(out).toContain('live members: 1, reroutes: 1');
  });

  it('causal: hold until the cause, orphan after the timeout', async () => {
    expect((await example('causal')).trim().split('\n')).toEqual(['held: true', 'question', 'answer', 'reply to nothing (orphaned)']);
  });

  it('durable: idempotent publish, replay through DurableChannel', async () => {
    const out = await example('durable');
    expect(out).toContain('duplicate: true, same message: true');
    expect(out).toContain('replayed');
    expect(out).toContain('message: { amount: 10 }');
  });

  it('supervision: a crashed channel actor restarts, an exhausted budget fails the channel', async () => {
    expect((await example('supervision')).trim().split('\n')).toEqual([
      'got login (sequence 0)',
      'restarts: 1, state: open',
      'true channel "audit" failed after 2 restart(s)',
      'state: failed',
    ]);
  });

  it('evolution: an optional field with a default, a newly required field refused', async () => {
    expect((await example('evolution')).trim().split('\n')).toEqual(['{"id":"o-1"}', '{"id":"o-2","currency":"EUR"}', "true [ 'currency' ]"]);
  });

  it('tracing: the publisher\'s trace reaches the conversation step', async () => {
    expect((await example('tracing')).trim().split('\n')).toEqual(['charge runs in trace 4bf92f3577b34da6a3ce929d0e0e4736', 'charged o-1']);
  });

  it('the README shows every example file verbatim', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const files = readdirSync(new URL('../examples/', import.meta.url)).filter((file) => file.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) expect(readme, file).toContain(readFileSync(new URL(`../examples/${file}`, import.meta.url), 'utf8').trim());
  });

  it('metrics: served on 127.0.0.1', async () => {
    expect(await example('metrics')).toContain('liminal_channel_published_total{channel="events"} 1');
  });
});
