import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 in front of PostgreSQL that misbehaves on cue (see `arm` and `withhold`). */
export interface PgProxy {
  readonly port: number;
  /**
   * Forwards the first client message containing `marker` to the server,
   * stops passing the server's answers back, then cuts both connections:
   * the write reached the server, its answer never reached the client.
   * Resolves once cut.
   */
  arm(marker: string): Promise<void>;
  /**
   * Never forwards the first client message containing `marker` (nor any
   * after it on that connection): to the server the client simply went
   * quiet, as a paused process does. Resolves when that message was held.
   */
  withhold(marker: string): Promise<void>;
  /** The connection string `url` rewritten to go through the proxy. */
  url(url: string): string;
  close(): Promise<void>;
}

type Trigger = { readonly marker: Buffer; readonly mode: 'cut' | 'withhold'; readonly fired: () => void };

export async function startPgProxy(target: URL): Promise<PgProxy> {
  let armed: Trigger | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    let held = false;
    client.on('data', (chunk: Buffer) => {
      if (held) return;
      const trigger = armed;
      if (trigger === undefined || !chunk.includes(trigger.marker)) {
        upstream.write(chunk);
        return;
      }
      armed = undefined;
      if (trigger.mode === 'withhold') {
        held = true;
        trigger.fired();
        return;
      }
      upstream.unpipe(client);
      upstream.write(chunk, () => {
        // Give the server time to execute what it received, then drop both sides.
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
          trigger.fired();
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
  const port = address.port;
  const trigger = (marker: string, mode: Trigger['mode']) => new Promise<void>((resolve) => (armed = { marker: Buffer.from(marker), mode, fired: resolve }));
  return {
    port,
    arm: (marker) => trigger(marker, 'cut'),
    withhold: (marker) => trigger(marker, 'withhold'),
    url: (url) => {
      const proxied = new URL(url);
      proxied.host = `127.0.0.1:${port}`;
      return proxied.toString();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
