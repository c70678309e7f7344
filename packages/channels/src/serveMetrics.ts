import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Anything with Prometheus text to serve: a `ChannelRegistry`, a `ChannelMetrics`. */
export interface MetricsSource {
  metrics(): Promise<string>;
}

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464/metrics` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Serves `GET /metrics` on 127.0.0.1 only (metrics are not for the network at
 * large unless the operator puts a proxy in front). Port 0 picks a free port.
 */
export function serveMetrics(source: MetricsSource, options: { readonly port: number; readonly host?: string }): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    source.metrics().then(
      (text) => response.writeHead(200, { 'content-type': CONTENT_TYPE }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${port}/metrics`,
        port,
        close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
      });
    });
  });
}
