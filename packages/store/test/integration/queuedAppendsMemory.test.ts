import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { useTempDirectory } from '../support/tempDirectory.js';
import { worker } from './children.js';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

// 100 MB of payloads: a queue that kept them all would hold 4 times the SQLite bound below, and 20 times what may be left after.
// 50k keeps CI short; LIMINAL_QUEUED_APPENDS=100000 runs the 100k (200 MB).
const count = Number(process.env['LIMINAL_QUEUED_APPENDS'] ?? 50_000);
const bytes = 2_048;
/** What a queue holding every payload given to it would hold at least. */
const payloadBytes = count * bytes;

interface Measured {
  held: number;
  retained: number;
  appended: number;
  failed: number;
}

/** Runs the heap-measuring worker in its own process, started with --expose-gc (see workers/queuedAppendsHeap.ts). */
function measure(args: readonly string[]): Promise<Measured> {
  const child = spawn(process.execPath, ['--expose-gc', '--conditions=@liminal/source', '--import', 'tsx', worker('queuedAppendsHeap'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured) : reject(new Error(`exited ${code}: ${stderr}`))));
  });
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

describe(`${count / 1000}k appends made in one loop without awaiting, ${bytes}-byte payloads (${mb(payloadBytes)})`, () => {
  const tempFile = useTempDirectory('liminal-queue-memory-');

  it('SQLite: the bounded group-commit queue keeps memory flat (a full queue is committed inside the call)', async () => {
    const result = await measure([`sqlite:${tempFile('burst.db')}`, String(count), String(bytes), '4096']);
    console.log(`SQLite, maxQueuedWrites 4096: held ${mb(result.held)} while queued, ${mb(result.retained)} after`);
    expect(result).toMatchObject({ appended: count, failed: 0 });
    // An unbounded queue held 203 MB here with 100k appends: every payload until the end of the tick.
    expect(result.held).toBeLessThan(payloadBytes / 4);
    expect(result.retained).toBeLessThan(payloadBytes / 20);
  }, 180_000);

  it.skipIf(url === undefined)(
    'PostgreSQL: each outstanding append holds one copy of its payload and nothing more, and everything is released once committed',
    async () => {
      const schema = uniqueSchemaName();
      schemas.push(schema);
      const result = await measure([`${url!}?schema=${schema}`, String(count), String(bytes)]);
      console.log(`PostgreSQL: held ${mb(result.held)} while queued, ${mb(result.retained)} after`);
      expect(result).toMatchObject({ appended: count, failed: 0 });
      // The copy is the contract (a caller may reuse its buffer once append returns), so N outstanding
      // appends cost N payloads; a second copy, or batches kept after they are sent, would exceed this.
      expect(result.held).toBeLessThan(payloadBytes * 1.8);
      expect(result.retained).toBeLessThan(payloadBytes / 20);
    },
    180_000,
  );
});
