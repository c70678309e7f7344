import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, StoreUnavailableError } from '@liminal/store';
import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';

const url = await postgresForTests();
const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema, url);
});

/**
 * A TCP proxy on 127.0.0.1 in front of PostgreSQL that, once armed, forwards
 * the first client message containing `marker` to the server, stops passing
 * the server's answers back, and then cuts both connections: the write
 * reached the server, its answer never reached the client.
 */
async function startCuttingProxy(target: URL): Promise<{ port: number; arm(marker: string): Promise<void>; close(): Promise<void> }> {
  let armed: { marker: Buffer; cut: () => void } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const trigger = armed;
      if (trigger === undefined || !chunk.includes(trigger.marker)) {
        upstream.write(chunk);
        return;
      }
      armed = undefined;
      upstream.unpipe(client);
      upstream.write(chunk, () => {
        // Give the server time to execute what it received, then drop both sides.
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
          trigger.cut();
        }, 200);
      });
    });
    for (const socket of [client, upstream]) socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
  return {
    port: address.port,
    arm: (marker) => new Promise((resolve) => (armed = { marker: Buffer.from(marker), cut: resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(url === undefined)('PostgreSQL outcome certainty', () => {
  const viaProxy = (port: number) => {
    const proxied = new URL(url!);
    proxied.host = `127.0.0.1:${port}`;
    return proxied.toString();
  };

  it('rejects with ambiguous: true when the connection is lost after COMMIT was sent (and the write may well be there)', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startCuttingProxy(new URL(url!));
    const store = new PostgresStore(viaProxy(proxy.port), { schema, poolSize: 1 });
    const direct = new PostgresStore(url!, { schema, poolSize: 1 });
    try {
      await store.streamLength('warm-up'); // schema created, connection open
      const cut = proxy.arm('COMMIT\0');
      const error = await store
        .commit([
          { op: 'append', stream: 'order', payloads: [new Uint8Array([1])], expectedSeq: 0 },
          { op: 'cas', key: 'cursor', expected: 0, next: 1 },
        ])
        .catch((caught: unknown) => caught);
      await cut;
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: true });
      // All or none, and the caller resolves the doubt by reading.
      const [length, cursor] = [await direct.streamLength('order'), await direct.readValue('cursor')];
      expect({ length, cursor }).toEqual(length === 1 ? { length: 1, cursor: 1 } : { length: 0, cursor: undefined });
      console.log(`ambiguous COMMIT: the write ${length === 1 ? 'had committed' : 'had not committed'} (read back afterwards)`);
      // The store recovers: a fresh connection serves the next call.
      expect(await store.streamLength('order')).toBe(length);
    } finally {
      await Promise.all([store.close(), direct.close()]);
      await proxy.close();
    }
  }, 60_000);

  it('rejects a single append with ambiguous: true when its autocommit statement lost the connection after being sent', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startCuttingProxy(new URL(url!));
    const store = new PostgresStore(viaProxy(proxy.port), { schema, poolSize: 1 });
    try {
      await store.streamLength('warm-up');
      const cut = proxy.arm('liminal_append_one');
      const error = await store.append('single', new Uint8Array([1]), 0).catch((caught: unknown) => caught);
      await cut;
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: true });
    } finally {
      await store.close();
      await proxy.close();
    }
  }, 60_000);

  it('rejects with ambiguous: false when nothing could be sent (no connection), and nothing is written', async () => {
    const schema = uniqueSchemaName();
    schemas.push(schema);
    const proxy = await startCuttingProxy(new URL(url!));
    const port = proxy.port;
    await proxy.close(); // nothing listens on the port any more
    const store = new PostgresStore(viaProxy(port), { schema, poolSize: 1 });
    const direct = new PostgresStore(url!, { schema, poolSize: 1 });
    try {
      for (const call of [
        () => store.commit([{ op: 'append', stream: 'order', payloads: [new Uint8Array([1])], expectedSeq: 0 }]),
        () => store.append('order', new Uint8Array([1]), 0),
        () => store.cas('cursor', 0, 1),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', ambiguous: false });
      }
      expect(await direct.streamLength('order')).toBe(0);
      expect(await direct.readValue('cursor')).toBeUndefined();
    } finally {
      await Promise.all([store.close(), direct.close()]);
    }
  }, 60_000);
});
