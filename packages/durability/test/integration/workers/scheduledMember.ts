/**
 * One member of the worker group `billing` on the 1-partition channel
 * `reminders`, as its own process, whose wall clock is the number in
 * `timeFile` (the test moves time by rewriting it, no process sleeps for it).
 * Each delivered message's effect is an entry `<payload>@<now>` appended to
 * the stream `effects` through the EffectTx, so a message delivered twice
 * shows up twice. Prints one JSON line per delivery; runs until killed.
 *
 * argv: storeUrl, timeFile.
 */
import { readFileSync } from 'node:fs';
import { DurableChannel, type Clock } from '@liminal/durability';
import { openStore } from '@liminal/store';

const [url = '', timeFile = ''] = process.argv.slice(2);
const now = () => Number(readFileSync(timeFile, 'utf8'));
/** Timers fire when the file's time reaches them, checked every 20 ms. */
const fileClock: Clock = {
  now,
  setTimeout: (callback, ms) => {
    const at = now() + ms;
    const check = setInterval(() => {
      if (now() < at) return;
      clearInterval(check);
      callback();
    }, 20);
    return check;
  },
  clearTimeout: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

const store = await openStore(url);
const channel = new DurableChannel(store, 'reminders', { partitions: 1 });
const member = await channel.join('billing', { leaseMs: 600, heartbeatMs: 150, pollMs: 60_000, wallClock: fileClock });
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);
say({ ev: 'ready' });
const decoder = new TextDecoder();
await member.run((envelope, tx) => {
  const at = now();
  tx.append('effects', new TextEncoder().encode(`${decoder.decode(envelope.payload)}@${at}`));
  say({ ev: 'delivered', payload: decoder.decode(envelope.payload), at });
});
